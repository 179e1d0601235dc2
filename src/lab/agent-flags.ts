// What the lab needs to know about the flags a user passes to the agents (after `--`): which
// controllers run, where health is served, which kernel features that asks for.

/** The value of `--name=v`, `--name v` (non-boolean) or a bare `--name` (boolean true); last one wins. */
export function flagValue(flags: readonly string[], name: string, boolean = true): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i] as string;
    const bare = f.replace(/^--?/, '');
    if (bare === name) {
      const next = flags[i + 1];
      if (!boolean && next !== undefined && !next.startsWith('-')) {
        v = next;
        i++;
      } else v = 'true';
    } else if (bare.startsWith(`${name}=`)) v = bare.slice(name.length + 1);
  }
  return v;
}

const truthy = (v: string | undefined, dflt: boolean): boolean => (v === undefined ? dflt : !/^(false|0|f|no)$/i.test(v));

export interface AgentFeatures {
  readonly router: boolean;
  readonly firewall: boolean;
  readonly proxy: boolean;
  readonly overlay: boolean;
  readonly overlayType: string;
  readonly healthPort: number;
}

export function agentFeatures(flags: readonly string[]): AgentFeatures {
  const hp = Number(flagValue(flags, 'health-port', false) ?? 20244);
  return {
    router: truthy(flagValue(flags, 'run-router'), true),
    firewall: truthy(flagValue(flags, 'run-firewall'), true),
    proxy: truthy(flagValue(flags, 'run-service-proxy'), true),
    overlay: truthy(flagValue(flags, 'enable-overlay'), true),
    overlayType: flagValue(flags, 'overlay-type', false) ?? 'subnet',
    healthPort: Number.isInteger(hp) && hp >= 0 ? hp : 20244,
  };
}

/**
 * Kernel features the agents will need: IPVS and dummy links for the service proxy, ipip when the
 * router builds an overlay (overlay-type full always; subnet only between nodes on different subnets).
 */
export function neededKernelFeatures(f: AgentFeatures, segments: number): string[] {
  const need: string[] = [];
  if (f.proxy) need.push('ipvs', 'dummy');
  if (f.router && f.overlay && (f.overlayType === 'full' || segments > 1)) need.push('ipip');
  return need;
}
