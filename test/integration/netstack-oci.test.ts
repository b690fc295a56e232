/**
 * The user-space stack under `runsc create/run` (config `network: netstack`, no
 * `netstack.netns`): the stack follows the OCI spec's `linux.namespaces` network entry, as
 * gVisor's `--network=sandbox` does.
 *   - a network entry with a path: the namespace's veth (addresses, routes, MAC) moves into
 *     the stack, reached through an AF_PACKET socket opened inside that namespace:
 *       (a) busybox `ip -4 addr` / `ip route` inside print what the kernel printed for the
 *           namespace before (and what runc prints on the same bundle, where installed);
 *       (b) busybox httpd inside is fetched by curl from the host side;
 *       (c) busybox wget inside fetches from a python http.server on the host side;
 *     after the container ends and is deleted, the namespace's addresses and default route
 *     are back on the kernel's side, the sandbox process is gone and the namespace holds
 *     the links it held before (also after `delete --force` of a running container);
 *   - an entry without a path, or no entry: loopback only (gVisor starts its sandbox in a
 *     fresh namespace in both cases), and the host's interfaces are left alone;
 *   - a path that is not a namespace: create fails naming linux.namespaces.
 * The host end's transmit checksum offload is off (the stack verifies every checksum).
 * Needs root, iproute2, ethtool, curl and busybox. Every namespace, link, container,
 * process and temp dir is removed in after(), even when a test fails.
 */
import * as assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlive } from '../../core/runtime/oci/state';
import type { Spec } from '../../core/runtime/oci/spec';
import {
  cleanupRoot,
  cleanupRuncRoot,
  haveBusybox,
  haveRunc,
  isRoot,
  makeBundle,
  runc,
  runsc,
  tmpDir,
  until,
} from '../oci/helpers';
import {
  hostHttpServer,
  ip,
  makeVethNamespace,
  netnsEntry,
  ok,
  removeVethNamespace,
  run,
  sha,
  sleep,
} from './net-helpers';

const PY = '/usr/bin/python3';
const canRun =
  isRoot() &&
  haveBusybox() &&
  ['/usr/sbin/ip', '/usr/sbin/ethtool', '/usr/bin/curl', '/usr/bin/nsenter'].every((f) => fs.existsSync(f));

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

(canRun ? describe : describe.skip)(
  'net-netstack under runsc create/run: the OCI network namespace',
  function () {
    this.timeout(180000);
    const id = `${process.pid % 100000}`;
    const ns = `tsvno${id}`;
    const nsPath = `/var/run/netns/${ns}`;
    const hostIf = `tsvnh${id}`;
    const nsIf = `tsvnc${id}`;
    const octet = (process.pid % 200) + 20;
    const hostAddr = `10.234.${octet}.1`;
    const nsAddr = `10.234.${octet}.2`;
    let work = '';
    let root = '';
    let runcRoot = '';
    let config = '';
    let n = 0;
    let blob: Buffer = Buffer.alloc(0);
    /** What the kernel showed for the namespace before any sandbox took its veth. */
    let orig: { addr: string; route: string; links: string[]; busybox: string } = {
      addr: '',
      route: '',
      links: [],
      busybox: '',
    };
    const procs: ChildProcess[] = [];

    /** The namespace's IPv4 addresses and routes as the kernel shows them, and its links. */
    const kernelView = () => ({
      addr: ip('-n', ns, '-4', '-o', 'addr', 'show'),
      route: ip('-n', ns, 'route', 'show'),
      links: (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[])
        .map((l) => l.ifname)
        .sort(),
    });

    /** A fresh bundle dir running `args` (busybox rootfs) with `edits` applied. */
    function bundle(args: string[], ...edits: ((s: Spec) => void)[]): string {
      return makeBundle(path.join(work, `b${++n}`), args, (s) => {
        s.process!.terminal = false;
        for (const e of edits) e(s);
      });
    }

    /** Waits until the kernel's side of the namespace has its addresses and routes back. */
    async function givenBack(what: string): Promise<void> {
      try {
        await until(() => {
          const v = kernelView();
          return v.addr === orig.addr && v.route === orig.route;
        }, 30000);
      } catch {
        const v = kernelView();
        assert.fail(`${what}: the namespace's addresses/routes were not given back: ${v.addr} / ${v.route}`);
      }
      assert.deepEqual(kernelView().links, orig.links);
    }

    before(() => {
      work = tmpDir('tsvisor-nstack-oci-');
      root = path.join(work, 'state');
      runcRoot = path.join(work, 'runc-state');
      makeVethNamespace({ ns, hostIf, nsIf, hostAddr, nsAddr }, { netstack: true });
      config = path.join(work, 'runsc.yaml');
      fs.writeFileSync(config, 'network: netstack\n');
      blob = Buffer.alloc(1_000_000);
      for (let i = 0; i < blob.length; i++) blob[i] = (i * 2654435761) >>> 24;
      const bb = (...c: string[]) => run(['/usr/sbin/ip', 'netns', 'exec', ns, '/bin/busybox', ...c]);
      orig = { ...kernelView(), busybox: `${bb('ip', '-4', 'addr')}==\n${bb('ip', 'route')}` };
      assert.match(orig.busybox, new RegExp(`inet ${re(nsAddr)}/24 scope global ${nsIf}`));
      assert.match(orig.busybox, new RegExp(`default via ${re(hostAddr)} dev ${nsIf}`));
    });

    after(async () => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      if (root) await cleanupRoot(root);
      if (runcRoot) await cleanupRuncRoot(runcRoot);
      removeVethNamespace({ ns, hostIf });
      if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it('(a) a network entry with a path: busybox ip -4 addr / ip route inside show the namespace as the kernel did (and runc does)', async () => {
      const b = bundle(['sh', '-c', 'busybox ip -4 addr; echo ==; busybox ip route'], netnsEntry(nsPath));
      const ours = ok(
        await runsc(root, [`--config=${config}`, 'run', '--bundle', b, `c${++n}`]),
        'runsc run',
      );
      assert.equal(ours.stdout, orig.busybox, ours.stderr);
      await givenBack('after runsc run');
      // netstack is the default for create/run (as gVisor's --network=sandbox): no config.
      const byDefault = ok(
        await runsc(root, ['run', '--bundle', b, `c${++n}`]),
        'runsc run (default network)',
      );
      assert.equal(byDefault.stdout, orig.busybox, byDefault.stderr);
      await givenBack('after runsc run with the default network');
      if (haveRunc()) {
        const theirs = ok(await runc(runcRoot, ['run', '--bundle', b, `r${n}`]), 'runc run');
        assert.equal(ours.stdout, theirs.stdout);
      }
    });

    it('(b) busybox httpd inside is fetched by curl from the host side; after kill and delete the addresses are back and no process is left', async () => {
      const nsMac = (JSON.parse(ip('-n', ns, '-j', 'link', 'show', nsIf)) as { address: string }[])[0]
        .address;
      const b = bundle(['busybox', 'httpd', '-f', '-p', '80', '-h', '/www'], netnsEntry(nsPath));
      fs.mkdirSync(path.join(b, 'rootfs', 'www'));
      fs.writeFileSync(path.join(b, 'rootfs', 'www', 'blob'), blob);
      const cid = 'httpd';
      ok(await runsc(root, [`--config=${config}`, 'run', '--detach', '--bundle', b, cid]), 'runsc run -d');
      const st = JSON.parse(ok(await runsc(root, ['state', cid]), 'runsc state').stdout) as { pid: number };
      assert.ok(st.pid > 0 && isAlive(st.pid, 0), `sandbox pid ${st.pid}`);
      let got: Buffer | undefined;
      let last = '';
      for (let i = 0; i < 100 && !got; i++) {
        const r = spawnSync('/usr/bin/curl', ['-sS', '-f', '-m', '20', `http://${nsAddr}/blob`], {
          timeout: 30000,
          maxBuffer: 64 << 20,
        });
        if (r.status === 0) got = r.stdout;
        else {
          last = r.stderr.toString();
          await sleep(300);
        }
      }
      assert.ok(got, `curl from the host: ${last}`);
      assert.equal(sha(got), sha(blob));
      // While the container runs, the kernel's side of the namespace holds no address (the
      // stack does), and the host resolved the address to the veth end's own MAC.
      assert.equal(ip('-n', ns, '-4', '-o', 'addr', 'show', nsIf), '');
      const neigh = JSON.parse(ip('-j', 'neigh', 'show', nsAddr, 'dev', hostIf)) as { lladdr?: string }[];
      assert.equal(neigh[0]?.lladdr, nsMac);
      ok(await runsc(root, ['kill', cid, 'KILL']), 'runsc kill');
      await until(() => !isAlive(st.pid, 0), 30000);
      ok(await runsc(root, ['delete', cid]), 'runsc delete');
      assert.notEqual((await runsc(root, ['state', cid])).code, 0, 'the container is gone after delete');
      await givenBack('after kill and delete');
      assert.ok(!isAlive(st.pid, 0));
    });

    it('delete --force of a running container: the sandbox tears down and gives the addresses back', async () => {
      const b = bundle(['busybox', 'httpd', '-f', '-p', '8080', '-h', '/'], netnsEntry(nsPath));
      const cid = 'forced';
      ok(await runsc(root, [`--config=${config}`, 'run', '--detach', '--bundle', b, cid]), 'runsc run -d');
      const st = JSON.parse(ok(await runsc(root, ['state', cid]), 'runsc state').stdout) as { pid: number };
      // Taken: the kernel's side holds no address while the container runs.
      await until(() => ip('-n', ns, '-4', '-o', 'addr', 'show', nsIf) === '', 30000);
      ok(await runsc(root, ['delete', '--force', cid]), 'runsc delete --force');
      assert.ok(!isAlive(st.pid, 0), 'the sandbox process is gone');
      await givenBack('after delete --force');
    });

    it('(c) busybox wget inside fetches from a python http.server on the host side (as runc)', async () => {
      const www = path.join(work, 'hostwww');
      fs.mkdirSync(www, { recursive: true });
      const body = `hello from the host ${Date.now()}\n`;
      fs.writeFileSync(path.join(www, 'file.txt'), body);
      fs.writeFileSync(path.join(www, 'blob'), blob);
      const { srv, port } = await hostHttpServer(PY, hostAddr, www, procs);
      try {
        const url = `http://${hostAddr}:${port}`;
        const b = bundle(
          [
            'sh',
            '-c',
            `busybox wget -q -O - ${url}/file.txt && busybox wget -q -O - ${url}/blob | busybox sha256sum`,
          ],
          netnsEntry(nsPath),
        );
        const want = `${body}${sha(blob)}  -\n`;
        const ours = ok(
          await runsc(root, [`--config=${config}`, 'run', '--bundle', b, `c${++n}`]),
          'runsc run',
        );
        assert.equal(ours.stdout, want, ours.stderr);
        await givenBack('after runsc run');
        if (haveRunc())
          assert.equal(ok(await runc(runcRoot, ['run', '--bundle', b, `r${n}`]), 'runc run').stdout, want);
      } finally {
        srv.kill('SIGTERM');
      }
    });

    for (const [what, which] of [
      ['a network entry without a path', 'new'],
      ['no network entry', null],
    ] as const) {
      it(`${what}: loopback only, and no interface is taken from anywhere`, async () => {
        const hostBefore = ip('-4', '-o', 'addr', 'show', hostIf);
        const b = bundle(['sh', '-c', 'busybox ip -o addr; echo ==; busybox ip route'], netnsEntry(which));
        const r = ok(await runsc(root, [`--config=${config}`, 'run', '--bundle', b, `c${++n}`]), 'runsc run');
        const [addrs, routes] = r.stdout.split('==\n');
        const names = addrs
          .trim()
          .split('\n')
          .map((l) => l.split(/\s+/)[1]);
        assert.deepEqual([...new Set(names)], ['lo'], r.stdout);
        assert.match(addrs, /inet 127\.0\.0\.1\/8/);
        assert.equal(routes, '', 'no routes but the local table');
        assert.equal(ip('-4', '-o', 'addr', 'show', hostIf), hostBefore);
        assert.deepEqual(
          { addr: kernelView().addr, route: kernelView().route },
          { addr: orig.addr, route: orig.route },
        );
      });
    }

    it('a path that is not a network namespace: create fails naming linux.namespaces', async () => {
      const r = await runsc(root, [
        `--config=${config}`,
        'create',
        '--bundle',
        bundle(['true'], netnsEntry('/etc/hostname')),
        'badns',
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /linux\.namespaces: network \/etc\/hostname: .*not a network namespace/);
    });
  },
);
