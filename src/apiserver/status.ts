// Kubernetes-shaped errors. Every failure the server returns is a meta/v1 Status with the same reason,
// code and message wording as kube-apiserver, because clients (kubectl, client-node, our own agent)
// branch on `reason`/`code` and tests compare messages.
import { KrtError } from '../observe/errors.js';

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[] };
  code: number;
}

export class ApiError extends KrtError {
  constructor(
    /** The HTTP status (the Status object's `code`). */
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusBody['details'],
  ) {
    super('KRT_APISERVER_STATUS', message);
  }

  toStatus(): StatusBody {
    const s: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.status,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

function gr(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

function det(resource: string, group: string, name?: string): StatusBody['details'] {
  const d: NonNullable<StatusBody['details']> = { kind: resource };
  if (name !== undefined) d.name = name;
  if (group) d.group = group;
  return d;
}

export const errors = {
  notFound: (resource: string, group: string, name: string) =>
    new ApiError(404, 'NotFound', `${gr(resource, group)} "${name}" not found`, det(resource, group, name)),
  alreadyExists: (resource: string, group: string, name: string) =>
    new ApiError(409, 'AlreadyExists', `${gr(resource, group)} "${name}" already exists`, det(resource, group, name)),
  conflict: (resource: string, group: string, name: string, why?: string) =>
    new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${gr(resource, group)} "${name}": ${
        why ?? 'the object has been modified; please apply your changes to the latest version and try again'
      }`,
      det(resource, group, name),
    ),
  badRequest: (message: string) => new ApiError(400, 'BadRequest', message),
  methodNotAllowed: () =>
    new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
  notFoundPath: () => new ApiError(404, 'NotFound', 'the server could not find the requested resource'),
  gone: (message: string) => new ApiError(410, 'Expired', message),
  unauthorized: () => new ApiError(401, 'Unauthorized', 'Unauthorized'),
  tooLarge: () => new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'),
  unsupportedMedia: (ct: string) => new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${ct})`),
  internal: (message: string) => new ApiError(500, 'InternalError', `Internal error occurred: ${message}`),
};

/** Collects field errors during validation; `throwIfAny` turns them into one 422 Invalid. */
export class FieldErrors {
  readonly causes: StatusCause[] = [];

  required(field: string, detail = ''): void {
    this.causes.push({ reason: 'FieldValueRequired', message: `Required value${detail ? ': ' + detail : ''}`, field });
  }
  invalid(field: string, value: unknown, detail: string): void {
    this.causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${fmt(value)}: ${detail}`, field });
  }
  notSupported(field: string, value: unknown, allowed: readonly string[]): void {
    const list = allowed.map((a) => `"${a}"`).join(', ');
    this.causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${fmt(value)}: supported values: ${list}`,
      field,
    });
  }
  duplicate(field: string, value: unknown): void {
    this.causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${fmt(value)}`, field });
  }
  forbidden(field: string, detail: string): void {
    this.causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field });
  }

  get any(): boolean {
    return this.causes.length > 0;
  }

  throwIfAny(kind: string, group: string, name: string): void {
    if (!this.any) return;
    const parts = this.causes.map((c) => `${c.field}: ${c.message}`);
    const summary = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
    const details: NonNullable<StatusBody['details']> = { name, kind, causes: this.causes };
    if (group) details.group = group;
    throw new ApiError(422, 'Invalid', `${kind}${group ? '.' + group : ''} "${name}" is invalid: ${summary}`, details);
  }
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v) ?? 'null';
  } catch {
    return String(v);
  }
}
