/**
 * The Debian suite (test/integration/debian.test.ts's bash and python3 cases) on a
 * containerfs root: the same Debian 12 tree (scripts/debian-rootfs.sh) is packed into two
 * layer images (/usr below, the rest above) and every case runs under `runsc do` on that
 * root and with the tree as the directfs root (--root-dir); stdout, stderr and exit status
 * must be the same. Needs root and Debian's mirror the first time (as the main suite).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runSandbox } from '../../../test/integration/harness';
import { compareDebianCases } from '../../../test/integration/debian-cases';
import { dirEntries } from '../src/packer/dir';
import { writeImage, type Entry } from '../src/format/writer';

let ROOT = '';
let CONFIG = '';

function buildRoot(): string | null {
  if (process.getuid?.() !== 0) return null;
  const r = spawnSync('bash', [path.join(REPO, 'scripts', 'debian-rootfs.sh')], {
    encoding: 'utf8',
    timeout: 900000,
  });
  if (r.status !== 0) throw new Error(`debian-rootfs.sh failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

/** Split the tree's entries into /usr and the rest; a hard link across the split becomes a copy. */
function splitLayers(entries: Entry[]): [Entry[], Entry[]] {
  const inUsr = (p: string) => p === '/usr' || p.startsWith('/usr/');
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const low: Entry[] = [],
    high: Entry[] = [];
  for (const e of entries) {
    let x = e;
    if (e.kind === 'hardlink' && inUsr(e.target!) !== inUsr(e.path))
      x = { ...byPath.get(e.target!)!, path: e.path };
    if (e.path === '/') {
      low.push(x);
      high.push(x);
    } else (inUsr(e.path) ? low : high).push(x);
  }
  return [low, high];
}

const direct = (argv: string[], env: Record<string, string> = {}) =>
  runSandbox(argv, { env, flags: ['--root-dir', ROOT], timeoutMs: 300000 });
const onCfs = (argv: string[], env: Record<string, string> = {}) =>
  runSandbox(argv, { env, flags: ['--config', CONFIG], timeoutMs: 300000 });

describe('Debian programs: containerfs root vs directfs root of the same tree', function () {
  this.timeout(600000);
  let work = '';
  before(function () {
    const r = buildRoot();
    if (!r) this.skip();
    ROOT = r;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cfs-deb-'));
    const [low, high] = splitLayers(dirEntries(ROOT));
    writeImage(low, path.join(work, 'usr.img'));
    writeImage(high, path.join(work, 'rest.img'));
    CONFIG = path.join(work, 'runsc.config.json');
    fs.writeFileSync(
      CONFIG,
      JSON.stringify({ rootfs: 'containerfs', containerfs: { layers: ['usr.img', 'rest.img'] } }),
    );
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  compareDebianCases(direct, onCfs);
});
