import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Script } from 'node:vm';
import { CLI, ROOT } from './helpers/corral';

// What can be checked without a Docker daemon or a cluster: the files parse, and the numbers
// and names that must agree across them do.
const DEPLOY = join(ROOT, 'examples', 'deploy');
// Debian's python3 with python3-yaml: a well-kept YAML parser, without adding an npm dependency.
const PYTHON = process.env['PYTHON'] ?? '/usr/bin/python3';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: Record<string, unknown> };
// The shapes below are only the parts the tests read.
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Record<string, { port?: string | number }>;
  livenessProbe?: Record<string, { port?: string | number }>;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface Workload {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
interface ServiceSpec {
  selector: Record<string, string>;
  ports: { name: string; port: number; targetPort: string | number }[];
}

function loadYaml(file: string): Promise<Doc[]> {
  const script = 'import json, sys, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))';
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', script, file], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${PYTHON} could not parse ${file} (YAML error, or python3-yaml missing: apt-get install -y python3-yaml):\n${stderr}`));
      else resolve(JSON.parse(stdout) as Doc[]);
    });
  });
}

function find(docs: Doc[], kind: string, name: string): Doc {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(doc, `no ${kind} ${name}`);
  return doc;
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

describe('examples/deploy', () => {
  const files = new Map<string, Doc[]>();
  before(async () => {
    for (const name of readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml'))) files.set(name, await loadYaml(join(DEPLOY, name)));
  });
  const docs = (name: string): Doc[] => {
    const d = files.get(name);
    assert.ok(d, `examples/deploy/${name} is missing`);
    return d;
  };

  test('every YAML file parses, and every document names its apiVersion, kind and name', () => {
    assert.deepEqual([...files.keys()].sort(), ['balancer.yaml', 'ingress-nginx-cookie.yaml', 'ingress-nginx.yaml', 'kubernetes.yaml']);
    for (const [name, list] of files) {
      assert.ok(list.length > 0, name);
      for (const d of list) assert.ok(d.apiVersion && d.kind && d.metadata?.name, `${name}: ${JSON.stringify(d).slice(0, 80)}`);
    }
  });

  test('the StatefulSet gives corral time to drain: grace period above preStop plus --kill-timeout', () => {
    const spec = find(docs('kubernetes.yaml'), 'StatefulSet', 'corral').spec as unknown as Workload;
    const pod = spec.template.spec;
    const app = pod.containers[0]!;
    const killTimeoutMs = Number(flag(app.args ?? [], '--kill-timeout') ?? 5000);
    const preStop = app.lifecycle?.preStop?.exec?.command ?? [];
    assert.equal(preStop[0], 'sleep');
    const preStopS = Number(preStop[1]);
    assert.ok(preStopS >= 5, 'preStop leaves time for endpoints to be removed');
    assert.ok(pod.terminationGracePeriodSeconds! > preStopS + killTimeoutMs / 1000, `${pod.terminationGracePeriodSeconds} s > ${preStopS} s + ${killTimeoutMs} ms`);
  });

  test('corral takes the Redis URL from an env var the kubelet expands, fed by the Secret', () => {
    const list = docs('kubernetes.yaml');
    const app = (find(list, 'StatefulSet', 'corral').spec as unknown as Workload).template.spec.containers[0]!;
    assert.equal(flag(app.args!, '--adapter'), 'redis');
    assert.equal(flag(app.args!, '--redis'), '$(REDIS_URL)');
    assert.equal(flag(app.args!, '--host-id'), undefined, 'the host id defaults to the pod name');
    const ref = app.env?.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef;
    assert.ok(ref, 'REDIS_URL comes from a Secret');
    const secret = find(list, 'Secret', ref.name) as unknown as { stringData: Record<string, string> };
    assert.match(secret.stringData[ref.key] ?? '', /^rediss?:\/\//);
  });

  test('the StatefulSet probes readiness and liveness on its named port', () => {
    const app = (find(docs('kubernetes.yaml'), 'StatefulSet', 'corral').spec as unknown as Workload).template.spec.containers[0]!;
    const portNames = (app.ports ?? []).map((p) => p.name);
    for (const probe of [app.readinessProbe, app.livenessProbe]) {
      assert.ok(probe, 'probe missing');
      const port = Object.values(probe).find((v) => typeof v === 'object' && v !== null && 'port' in v)?.port;
      assert.ok(portNames.includes(String(port)), `probe port ${String(port)} is a named container port`);
    }
  });

  test('every pod of the StatefulSet has its own Service, on its container port', () => {
    const list = docs('kubernetes.yaml');
    const set = find(list, 'StatefulSet', 'corral');
    const spec = set.spec as unknown as Workload;
    const portNames = spec.template.spec.containers[0]!.ports!.map((p) => p.name);
    for (let i = 0; i < spec.replicas; i++) {
      const svc = find(list, 'Service', `corral-${i}`).spec as unknown as ServiceSpec;
      assert.deepEqual(svc.selector, { 'statefulset.kubernetes.io/pod-name': `corral-${i}` });
      assert.ok(portNames.includes(String(svc.ports[0]!.targetPort)));
    }
    assert.equal(list.filter((d) => d.kind === 'Service' && /^corral-\d+$/.test(d.metadata.name)).length, spec.replicas, 'no Service for a pod that does not exist');
  });

  test('the lb-config command in balancer.yaml runs, names every pod by its Service, and listens on the container port', async () => {
    const text = readFileSync(join(DEPLOY, 'balancer.yaml'), 'utf8');
    const line = /^#\s+(corral lb-config nginx .*?) > nginx\.conf$/m.exec(text)?.[1];
    assert.ok(line, 'balancer.yaml shows the command');
    const args = line.split(/\s+/).slice(1);
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 15_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /map \$arg_sid \$corral_upstream/);

    const cluster = docs('kubernetes.yaml');
    const set = find(cluster, 'StatefulSet', 'corral').spec as unknown as Workload;
    const expected = Array.from({ length: set.replicas }, (_, i) => {
      const port = (find(cluster, 'Service', `corral-${i}`).spec as unknown as ServiceSpec).ports[0]!.port;
      return `corral-${i}=corral-${i}:${port}`;
    });
    assert.deepEqual(flag(args, '--hosts')!.split(','), expected);

    const balancer = docs('balancer.yaml');
    const pod = (find(balancer, 'Deployment', 'corral-lb').spec as unknown as Workload).template.spec;
    const nginx = pod.containers[0]!;
    assert.equal(Number(flag(args, '--listen')), nginx.ports![0]!.containerPort);
    // nginx reads the config where the ConfigMap is mounted, under the key the command writes.
    const configPath = flag(nginx.command!, '-c')!;
    const mount = nginx.volumeMounts!.find((m) => configPath.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${configPath} is inside a mounted volume`);
    assert.equal(configPath.slice(mount.mountPath.length + 1), 'nginx.conf');
    const volume = pod.volumes!.find((v) => v.name === mount.name);
    assert.match(text, new RegExp(`kubectl create configmap ${volume?.configMap?.name} --from-file=nginx\\.conf=`));
    assert.ok(nginx.volumeMounts!.some((m) => flag(nginx.command!, '-p')!.replace(/\/$/, '') === m.mountPath), 'the -p prefix is a writable volume');
  });

  test('the Ingress sends everything to corral-lb, with timeouts above pingInterval + pingTimeout', () => {
    const ingress = find(docs('ingress-nginx.yaml'), 'Ingress', 'corral');
    checkIngress(ingress, docs('balancer.yaml'));
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity'], undefined, 'the sid prefix routes; no affinity needed');
  });

  test('the cookie-affinity Ingress reaches the StatefulSet\'s pods through a Service that selects them', () => {
    const list = docs('ingress-nginx-cookie.yaml');
    const ingress = find(list, 'Ingress', 'corral');
    assert.equal(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/affinity'], 'cookie');
    checkIngress(ingress, list);
    const svc = find(list, 'Service', 'corral-web').spec as unknown as ServiceSpec;
    const set = find(docs('kubernetes.yaml'), 'StatefulSet', 'corral').spec as unknown as Workload;
    assert.deepEqual(svc.selector, set.template.metadata.labels);
  });

  test('the Dockerfile runs corral as PID 1, as a non-root user, with production dependencies only', () => {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const instructions = text.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const of = (name: string): string[] => instructions.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
    assert.match(of('FROM')[0] ?? '', /^node:20/);
    assert.ok(of('RUN').some((r) => /\bnpm ci --omit=dev\b/.test(r)));
    const user = of('USER').at(-1);
    assert.ok(user !== undefined && user !== 'root' && user !== '0', `USER ${String(user)}`);
    // Exec form: corral itself is PID 1 and receives docker stop's SIGTERM.
    const cmd = JSON.parse(of('CMD').at(-1) ?? '') as string[];
    assert.deepEqual(cmd.slice(0, 2), ['node_modules/.bin/corral', 'start']);
    assert.equal(flag(cmd, '--host-id'), undefined, 'the host id defaults to the hostname');
    const health = JSON.parse((of('HEALTHCHECK')[0] ?? '').replace(/^.*?CMD /, '')) as string[];
    assert.deepEqual(health.slice(0, 2), ['node', '-e']);
    assert.doesNotThrow(() => new Script(health[2]!), 'the health check script compiles');
    const ignore = readFileSync(join(DEPLOY, '.dockerignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('node_modules') && ignore.includes('.git'));
  });
});

function checkIngress(ingress: Doc, services: Doc[]): void {
  const rules = ingress.spec['rules'] as { http: { paths: { path: string; backend: { service: { name: string; port: { name: string } } } }[] } }[];
  const paths = rules.flatMap((r) => r.http.paths);
  assert.deepEqual(paths.map((p) => p.path), ['/']);
  const target = paths[0]!.backend.service;
  const svc = find(services, 'Service', target.name).spec as unknown as ServiceSpec;
  assert.ok(svc.ports.some((p) => p.name === target.port.name), `Service ${target.name} has port ${target.port.name}`);
  for (const key of ['proxy-read-timeout', 'proxy-send-timeout']) {
    const seconds = Number(ingress.metadata.annotations?.[`nginx.ingress.kubernetes.io/${key}`]);
    assert.ok(seconds > 45, `${key} ${seconds} s > 25 s + 20 s`);
  }
}
