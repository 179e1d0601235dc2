// RBAC as the API server evaluates it, for checking a ClusterRole against the requests an agent made:
// a request's attributes (verb, API group, resource) from its method and path, and whether rules allow it.

export interface RequestAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
}

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
}

/**
 * The authorizer's view of one request (k8s.io/apiserver RequestInfo): /api/v1[/namespaces/NS]/RESOURCE[/NAME]
 * or /apis/GROUP/VERSION/...; GET is get, list or watch (?watch=true or the old /watch/ prefix).
 * Undefined for non-resource paths (discovery, /version), which every authenticated user may read.
 */
export function requestAttributes(method: string, rawUrl: string): RequestAttributes | undefined {
  const url = new URL(rawUrl, 'http://x');
  let parts = url.pathname.split('/').filter(Boolean);
  let group: string;
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    parts = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!;
    parts = parts.slice(3);
  } else {
    return undefined;
  }
  let watchPrefix = false;
  if (parts[0] === 'watch') {
    watchPrefix = true;
    parts = parts.slice(1);
  }
  if (parts.length === 0) return undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) parts = parts.slice(2);
  const resource = parts.length >= 3 ? `${parts[0]}/${parts[2]}` : parts[0]!;
  const named = parts.length >= 2;
  const watch = watchPrefix || ['true', '1'].includes(url.searchParams.get('watch') ?? '');
  const verbs: Record<string, string> = {
    GET: watch ? 'watch' : named ? 'get' : 'list',
    HEAD: named ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: named ? 'delete' : 'deletecollection',
  };
  const verb = verbs[method.toUpperCase()];
  if (!verb) throw new Error(`no RBAC verb for ${method}`);
  return { verb, group, resource };
}

const has = (list: readonly string[] | undefined, v: string) => !!list && (list.includes('*') || list.includes(v));

export function allows(rules: readonly PolicyRule[], a: RequestAttributes): boolean {
  return rules.some((r) => has(r.verbs, a.verb) && has(r.apiGroups, a.group) && has(r.resources, a.resource));
}

/** Every (verb, group, resource) the rules name, wildcards left as they are. */
export function grants(rules: readonly PolicyRule[]): RequestAttributes[] {
  return rules.flatMap((r) =>
    (r.apiGroups ?? []).flatMap((group) => (r.resources ?? []).flatMap((resource) => r.verbs.map((verb) => ({ verb, group, resource })))),
  );
}
