// Validation of manifests against the Kubernetes API's OpenAPI schemas, as compiled by the npm package
// kubernetes-models (one model class per apiVersion/kind, each with the package's own validator).
// kubernetes-models 4.5.1 is its newest release that runs on Node 20 (5.x needs Node 22); it is generated
// from the Kubernetes 1.33 OpenAPI, whose apps/v1, rbac/v1 and core/v1 schemas are 1.32's plus new optional
// fields. Like the OpenAPI itself, it does not reject unknown fields; the dry-run apply does the rest.
import { parseAllDocuments } from 'yaml';

export interface SchemaProblem {
  readonly doc: string;
  readonly message: string;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]+$/.test(kind)) {
    throw new Error(`not a Kubernetes apiVersion/kind: ${apiVersion} ${kind}`);
  }
  const specifier = `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, ModelClass>;
  const cls = mod[kind];
  if (!cls) throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
  return cls;
}

/** Parses a multi-document YAML text and validates every document; returns one problem per invalid document. */
export async function validateManifests(text: string): Promise<{ objects: Record<string, unknown>[]; problems: SchemaProblem[] }> {
  const objects: Record<string, unknown>[] = [];
  const problems: SchemaProblem[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) {
      problems.push({ doc: '(yaml)', message: d.errors.map((e) => e.message).join('; ') });
      continue;
    }
    const obj = d.toJS() as Record<string, unknown> | null;
    if (obj === null || obj === undefined) continue;
    objects.push(obj);
    const apiVersion = String(obj.apiVersion);
    const kind = String(obj.kind);
    const name = `${kind}/${String((obj.metadata as { name?: string } | undefined)?.name)}`;
    let cls: ModelClass;
    try {
      cls = await modelFor(apiVersion, kind);
    } catch (err) {
      problems.push({ doc: name, message: (err as Error).message });
      continue;
    }
    try {
      new cls(obj).validate();
    } catch (err) {
      problems.push({ doc: name, message: (err as Error).message });
    }
  }
  return { objects, problems };
}
