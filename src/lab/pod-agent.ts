// The lab's pod "container": one small process per pod, started inside the pod's network namespace.
// It serves every declared container port over TCP and UDP, answering with the pod's name (as agnhost
// serve-hostname does), and makes probe connections *from* the pod on request. Requests arrive as JSON
// lines on stdin from the lab supervisor, so a 9x9 matrix is 9 messages, not 81 process spawns.
// Self-contained on purpose (node: imports only): the lab can run it from dist or transpile it alone.
import dgram from 'node:dgram';
import net from 'node:net';

interface Target {
  ip: string;
  port: number;
  proto: 'TCP' | 'UDP';
}
interface Request {
  id: number;
  op: 'probe';
  targets: Target[];
  timeoutMs?: number;
}

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const podName = arg('--name') ?? 'pod';
const ports = (arg('--ports') ?? '')
  .split(',')
  .filter((s) => s.length > 0)
  .map((s) => {
    const [p, proto] = s.split('/');
    return { port: Number(p), proto: (proto ?? 'TCP').toUpperCase() };
  })
  .filter((p) => Number.isInteger(p.port) && p.port > 0 && p.port < 65536);

const reply = Buffer.from(podName + '\n');
const errors: string[] = [];

function serveTCP(port: number): Promise<void> {
  return new Promise((resolve) => {
    const srv = net.createServer((s) => {
      s.on('error', () => undefined);
      s.end(reply);
    });
    srv.on('error', (e) => {
      errors.push(`tcp ${port}: ${e.message}`);
      resolve();
    });
    srv.listen({ port, host: '0.0.0.0', backlog: 511 }, () => resolve());
  });
}

function serveUDP(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.on('message', (_m, rinfo) => s.send(reply, rinfo.port, rinfo.address));
    s.on('error', (e) => {
      errors.push(`udp ${port}: ${e.message}`);
      resolve();
    });
    s.bind(port, '0.0.0.0', () => resolve());
  });
}

function probeTCP(t: Target, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.ip, port: t.port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

function probeUDP(t: Target, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    let resend: NodeJS.Timeout | undefined;
    let finished = false;
    const done = (ok: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (resend) clearInterval(resend);
      try {
        s.close();
      } catch {
        /* already closed */
      }
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('message', () => done(true));
    // An ICMP port unreachable (REJECT) surfaces as ECONNREFUSED on a connected socket: fast "no".
    s.on('error', () => done(false));
    s.connect(t.port, t.ip, () => {
      const send = (): void => {
        if (!finished) s.send('hostname', (e) => e && done(false));
      };
      send();
      // Datagrams can be lost (ARP not yet resolved); resend a few times within the timeout.
      resend = setInterval(send, Math.max(100, Math.floor(timeoutMs / 4)));
    });
  });
}

async function handle(req: Request): Promise<void> {
  const timeout = Math.max(50, Math.min(req.timeoutMs ?? 1000, 30_000));
  const results = await Promise.all(
    (req.targets ?? []).map((t) => (t.proto === 'UDP' ? probeUDP(t, timeout) : probeTCP(t, timeout)).catch(() => false)),
  );
  process.stdout.write(JSON.stringify({ id: req.id, results }) + '\n');
}

async function main(): Promise<void> {
  await Promise.all(ports.map((p) => (p.proto === 'UDP' ? serveUDP(p.port) : serveTCP(p.port))));
  process.stdout.write(JSON.stringify({ ready: true, errors }) + '\n');
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      try {
        void handle(JSON.parse(line) as Request);
      } catch {
        process.stderr.write(`bad request: ${line.slice(0, 200)}\n`);
      }
    }
  });
  // The supervisor owns this process: when it goes, so does the pod.
  process.stdin.on('end', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

void main();
