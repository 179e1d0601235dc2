import { describe, expect, it } from 'vitest';
import { FLAGS } from './flags.js';
import { defaultConfig, FlagError, nonDefaultFlags, parseAgentArgs, suggestFlag, type FlagErrorCode } from './parse.js';

function run(...argv: string[]) {
  const out = parseAgentArgs(argv);
  if (out.kind !== 'run') throw new Error(`expected a run outcome, got ${out.kind}`);
  return out;
}

function parseError(argv: string[]): FlagError {
  try {
    parseAgentArgs(argv);
  } catch (err) {
    if (err instanceof FlagError) return err;
    throw err;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseAgentArgs: syntax', () => {
  it('gives the defaults with no flags, typed', () => {
    const c = run().config;
    expect(c.runRouter).toBe(true);
    expect(c.iptablesSyncPeriodMs).toBe(300_000);
    expect(c.injectedRoutesSyncPeriodMs).toBe(60_000);
    expect(c.bfdDesiredMinTxIntervalMs).toBe(1000);
    expect(c.serviceClusterIpRange).toEqual(['10.96.0.0/12']);
    expect(c.serviceNodePortRange).toEqual({ from: 30000, to: 32767 });
    expect(c.healthPort).toBe(20244);
    expect(c.metricsPort).toBe(0);
    expect(c.overlayType).toBe('subnet');
    expect(c.v).toBe(0);
    expect(c.peerRouterIps).toEqual([]);
    expect(nonDefaultFlags(c)).toEqual([]);
  });

  it('accepts every boolean form of Go', () => {
    expect(run('--run-router=false').config.runRouter).toBe(false);
    expect(run('--run-router=0').config.runRouter).toBe(false);
    expect(run('--run-router=f').config.runRouter).toBe(false);
    expect(run('--run-router=FALSE').config.runRouter).toBe(false);
    expect(run('--enable-ipv6').config.enableIpv6).toBe(true);
    expect(run('--enable-ipv6=T').config.enableIpv6).toBe(true);
    expect(run('--enable-ipv6=1').config.enableIpv6).toBe(true);
  });

  it('takes values as --flag value and --flag=value; the last scalar wins', () => {
    expect(run('--kubeconfig', '/k').config.kubeconfig).toBe('/k');
    expect(run('--kubeconfig=/a=b').config.kubeconfig).toBe('/a=b');
    expect(run('--kubeconfig=').config.kubeconfig).toBe('');
    expect(run('--routes-sync-period', '1m', '--routes-sync-period=90s').config.routesSyncPeriodMs).toBe(90_000);
  });

  it('parses -v in all pflag spellings', () => {
    expect(run('-v', '2').config.v).toBe(2);
    expect(run('-v2').config.v).toBe(2);
    expect(run('-v=3').config.v).toBe(3);
    expect(run('--v=2').config.v).toBe(2);
    expect(run('--v', '1').config.v).toBe(1);
  });

  it('handles -V, -h and grouped shorthands', () => {
    expect(parseAgentArgs(['-V']).kind).toBe('version');
    expect(parseAgentArgs(['--version']).kind).toBe('version');
    expect(parseAgentArgs(['-h']).kind).toBe('help');
    expect(parseAgentArgs(['--run-router=false', '--help']).kind).toBe('help');
    expect(parseAgentArgs(['-Vh']).kind).toBe('version');
    expect(parseAgentArgs(['--help=false']).kind).toBe('run');
  });

  it('replaces a list default on first use and appends on repeats', () => {
    const c = run('--service-cluster-ip-range=10.100.0.0/16', '--service-cluster-ip-range', 'fd00:10:96::1/112').config;
    expect(c.serviceClusterIpRange).toEqual(['10.100.0.0/16', 'fd00:10:96::/112']);
    const p = run('--peer-router-ips=10.0.0.1, 10.0.0.2', '--peer-router-ips=10.0.0.3', '--peer-router-asns=65001,65002,65003').config;
    expect(p.peerRouterIps).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(p.peerRouterAsns).toEqual([65001, 65002, 65003]);
    expect(run('--service-cluster-ip-range=').config.serviceClusterIpRange).toEqual([]);
  });

  it('canonicalizes CIDRs and addresses', () => {
    const c = run('--excluded-cidrs=10.1.2.3/8,FD00::1/64', '--peer-router-ips=2001:DB8::0:1', '--peer-router-asns=65000').config;
    expect(c.excludedCidrs).toEqual(['10.0.0.0/8', 'fd00::/64']);
    expect(c.peerRouterIps).toEqual(['2001:db8::1']);
  });

  it('parses port ranges with either separator, durations to ms, enums', () => {
    expect(run('--service-node-port-range=1000:2000').config.serviceNodePortRange).toEqual({ from: 1000, to: 2000 });
    expect(run('--ipvs-graceful-period', '1.5m').config.ipvsGracefulPeriodMs).toBe(90_000);
    expect(run('--cache-sync-timeout=5s').config.cacheSyncTimeoutMs).toBe(5000);
    expect(run('--overlay-type=full', '--overlay-encap=fou').config.overlayEncap).toBe('fou');
    expect(run('--bgp-holdtime=18h12m16s').config.bgpHoldtimeMs).toBe(65_536_000);
    expect(run('--bgp-graceful-restart-time=4095s').config.bgpGracefulRestartTimeMs).toBe(4_095_000);
  });

  it('reports non-default flags, secrets redacted', () => {
    const c = run('--run-firewall=false', '--peer-router-ips=10.0.0.1', '--peer-router-asns=65000', '--peer-router-passwords=c2VjcmV0').config;
    expect(nonDefaultFlags(c).map((f) => [f.name, f.display])).toEqual([
      ['run-firewall', 'false'],
      ['peer-router-ips', '10.0.0.1'],
      ['peer-router-asns', '65000'],
      ['peer-router-passwords', '<redacted>'],
    ]);
    // Setting a flag to its default is not a change.
    expect(nonDefaultFlags(run('--iptables-sync-period=300s').config)).toEqual([]);
  });
});

describe('parseAgentArgs: errors (one line each)', () => {
  const cases: Array<[string[], FlagErrorCode, string]> = [
    [['--iptables-sync-period=5x'], 'invalid-value', 'invalid value "5x" for --iptables-sync-period: expected a duration such as 90s, 5m or 1h30m'],
    [['--iptables-sync-period', '-5s'], 'invalid-value', 'invalid value "-5s" for --iptables-sync-period: expected a duration of at least 1s'],
    [['--service-tcp-timeout=-1s'], 'invalid-value', 'invalid value "-1s" for --service-tcp-timeout: expected a non-negative duration such as 90s'],
    [['--bgp-holdtime=2s'], 'invalid-value', 'invalid value "2s" for --bgp-holdtime: expected a duration from 3s to 18h12m16s'],
    [['--bgp-holdtime=18h12m17s'], 'invalid-value', 'expected a duration from 3s to 18h12m16s'],
    [['--bgp-graceful-restart-time=4096s'], 'invalid-value', 'expected a duration from 0s to 4095s'],
    [['--bgp-graceful-restart-deferral-time=19h'], 'invalid-value', 'expected a duration from 0s to 18h'],
    [['--excluded-cidrs=10.0.0.0/33'], 'invalid-value', 'invalid value "10.0.0.0/33" for --excluded-cidrs: expected a CIDR'],
    [['--excluded-cidrs=10.0.0.0/8,,10.1.0.0/16'], 'invalid-value', 'without empty entries'],
    [['--service-cluster-ip-range=10.0.0.0/8,fd00::/108,10.1.0.0/16'], 'invalid-value', 'expected at most 2 entries'],
    [['--peer-router-ips=10.0.0.300'], 'invalid-value', 'invalid value "10.0.0.300" for --peer-router-ips: expected an IP address'],
    [['--health-port=70000'], 'invalid-value', 'invalid value "70000" for --health-port: expected a port number from 0 to 65535'],
    [['--bgp-port=0'], 'invalid-value', 'expected a port number from 1 to 65535'],
    [['--overlay-encap-port=1023'], 'invalid-value', 'invalid value "1023" for --overlay-encap-port: expected a port number from 1024 to 65535'],
    [['--service-node-port-range=32767-30000'], 'invalid-value', 'expected a port range such as 30000-32767'],
    [['--run-router=yes'], 'invalid-value', 'invalid value "yes" for --run-router: expected true or false'],
    [['--overlay-type=mesh'], 'invalid-value', 'invalid value "mesh" for --overlay-type: expected one of subnet, full'],
    [['-v', 'x'], 'invalid-value', 'invalid value "x" for --v: expected an integer'],
    [['--router-id=fd00::1'], 'invalid-value', 'expected an IPv4 address or "generate"'],
    [['--cluster-asn=100'], 'invalid-value', 'expected a private AS number'],
    [['--peer-router-ips=1.1.1.1', '--peer-router-asns=23456'], 'invalid-value', 'invalid value "23456" for --peer-router-asns'],
    [['--peer-router-ips=1.1.1.1', '--peer-router-asns=65000', '--peer-router-passwords=not base64!'], 'invalid-value', 'base64'],
    [['--metrics-path=metrics'], 'invalid-value', 'expected an HTTP path starting with /'],
    [['--iptables-sync-perod=5m'], 'unknown-flag', 'unknown flag --iptables-sync-perod (did you mean --iptables-sync-period?)'],
    [['--iptables-sync', '5m'], 'unknown-flag', 'did you mean --iptables-sync-period?'],
    [['--completely-unrelated-thing'], 'unknown-flag', 'unknown flag --completely-unrelated-thing'],
    [['-run-router'], 'unknown-flag', 'unknown shorthand flag -run-router (did you mean --run-router?)'],
    [['-x'], 'unknown-flag', 'unknown flag -x'],
    [['--kubeconfig'], 'missing-value', 'flag --kubeconfig needs a value: expected a string'],
    [['--iptables-sync-period', '--run-router'], 'missing-value', 'flag --iptables-sync-period needs a value: expected a duration'],
    [['-v'], 'missing-value', 'flag -v needs a value'],
    [['--run-router', 'false'], 'unexpected-argument', 'unexpected argument "false" (boolean flags take their value as --flag=false)'],
    [['up'], 'unexpected-argument', 'unexpected argument "up"'],
    [['--', '--run-router'], 'unexpected-argument', 'unexpected argument "--run-router"'],
    [['--enable-ipv6', '--enable-ipv4=false'], 'conflict', 'conflicting flags: --enable-ipv6 with --enable-ipv4=false needs --router-id'],
    [['--enable-ipv4=false'], 'conflict', 'leave no address family'],
    [['--peer-router-ips=1.1.1.1,2.2.2.2', '--peer-router-asns=65000'], 'conflict', '--peer-router-asns has 1 entry but --peer-router-ips has 2 entries'],
    [['--peer-router-asns=65000'], 'conflict', '--peer-router-asns has 1 entry but --peer-router-ips has 0 entries'],
    [['--peer-router-ips=1.1.1.1', '--peer-router-asns=65000', '--peer-router-ports=179,180'], 'conflict', '--peer-router-ports has 2 entries'],
    [
      ['--peer-router-ips=1.1.1.1', '--peer-router-asns=65000', '--peer-router-passwords=c2VjcmV0', '--peer-router-passwords-file=/p'],
      'conflict',
      '--peer-router-passwords and --peer-router-passwords-file are mutually exclusive',
    ],
    [['--service-cluster-ip-range=10.0.0.0/16,10.1.0.0/16'], 'conflict', 'must be one IPv4 and one IPv6 range'],
  ];
  it.each(cases)('%j -> %s', (argv, code, text) => {
    const err = parseError(argv);
    expect(err.kind).toBe(code);
    expect(err.message).toContain(text);
    expect(err.message).not.toContain('\n');
  });

  it('accepts the conflicting combinations once resolved', () => {
    expect(run('--enable-ipv6', '--enable-ipv4=false', '--router-id=10.0.0.1').config.routerId).toBe('10.0.0.1');
    expect(run('--enable-ipv6', '--enable-ipv4=false', '--run-router=false').config.enableIpv4).toBe(false);
    expect(run('--router-id=generate').config.routerId).toBe('generate');
    expect(run('--service-cluster-ip-range=10.0.0.0/16,fd00::/108').config.serviceClusterIpRange).toHaveLength(2);
    expect(run('--cluster-asn=64512').config.clusterAsn).toBe(64512);
    expect(run('--cluster-asn=4200000000').config.clusterAsn).toBe(4200000000);
  });

  it('suggests only plausible flags', () => {
    expect(suggestFlag('run-routr')).toBe('run-router');
    expect(suggestFlag('metrics-prt')).toBe('metrics-port');
    expect(suggestFlag('zzzzzzzzzzzz')).toBeUndefined();
  });
});

describe('defaults', () => {
  it('every default parses through the same converter as user input', () => {
    expect(() => defaultConfig()).not.toThrow();
    expect(Object.keys(defaultConfig())).toHaveLength(FLAGS.filter((f) => !('action' in f)).length);
  });
});
