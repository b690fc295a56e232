/**
 * The Debian suite (test/integration/debian.test.ts's bash and python3 cases) on a
 * containerfs root: the same Debian 12 tree (scripts/debian-rootfs.sh) is packed into two
 * layer images (/usr below, the rest above) and every case runs under `runsc do` on that
 * root and with the tree as the directfs root (--root-dir); stdout, stderr and exit status
 * must be the same. Needs root and Debian's mirror the first time (as the main suite).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runSandbox } from '../../../test/integration/harness';
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

const BASH: [string, string][] = [
  [
    'arrays and associative arrays',
    'a=(x y z); a+=(w); echo "${#a[@]} ${a[2]} ${a[@]:1:2}"; declare -A m=([k]=v [j]=w); for k in $(printf "%s\\n" "${!m[@]}" | sort); do echo "$k=${m[$k]}"; done',
  ],
  ['process substitution', 'diff <(seq 1 5) <(seq 1 6); echo "rc=$?"; paste <(seq 3) <(seq 4 6)'],
  [
    'coprocess',
    'coproc BC { while read x; do echo $((x*x)); done; }; for i in 2 3 4; do echo $i >&"${BC[1]}"; read -r y <&"${BC[0]}"; echo "$i^2=$y"; done; exec {BC[1]}>&-; wait',
  ],
  [
    'subshells, traps, here-strings',
    'trap "echo trapped" EXIT; x=$(cat <<< "here string"); echo "$x"; (exit 3); echo "sub=$?"; read -r a b <<< "one two"; echo "$b $a"',
  ],
  [
    'coreutils',
    'mkdir -p /tmp/cu && cd /tmp/cu && printf "%s\\n" c b a > f && ls -la --time-style=+ --color=always f | cut -d" " -f1,5- && sort f | tr "\\n" , && echo && du -s --apparent-size f | cut -f1 && stat -c "%n %s %F %a" f && id -u && env -i A=1 B=2 env | sort && TZ=UTC0 date -d @1700000000 && TZ=EST5EDT date -d @1700000000 +%H:%M:%Z',
  ],
  ['sort of 1e6 lines', 'seq 1000000 | sort -n -r | head -3; seq 1000000 | sort | md5sum'],
  [
    'findutils, grep -r, sed, gawk',
    'cd /usr/share/doc && find . -maxdepth 1 -name "lib*" | sort | head -5; grep -rl "Debian" /etc/debian_version /etc/os-release | sort; sed -n "s/^VERSION_ID=//p" /etc/os-release; gawk -F: "\\$3 == 0 {print \\$1}" /etc/passwd; gawk "BEGIN { printf \\"%.3f\\n\\", atan2(0, -1) }"',
  ],
  [
    'tar, gzip and xz round trips',
    'mkdir -p /tmp/t/d && cd /tmp/t && seq 1 20000 > d/a && cp /etc/os-release d/b && tar czf x.tgz d && tar cJf x.txz d && rm -r d && tar xzf x.tgz && md5sum d/a d/b && rm -r d && tar xJf x.txz && md5sum d/a d/b && xz -9 -k d/a && xz -t d/a.xz && gzip -l x.tgz | tail -1 | gawk "{print \\$2}"',
  ],
  [
    'sha256sum of a 100 MiB file',
    'dd if=/dev/zero of=/tmp/big bs=1M count=100 2>/dev/null && sha256sum /tmp/big && rm /tmp/big',
  ],
  [
    'perl with fork and pipes',
    'perl -e \'pipe(R, W); my $p = fork; if (!$p) { close R; print W "from child $$\\n" =~ s/\\d+/N/r; exit 7 } close W; print scalar <R>; waitpid($p, 0); print "status ", $? >> 8, "\\n"\'',
  ],
  [
    'job control in bash -i under a pty',
    'script -qec "bash --norc -i -c \'sleep 0.2 & jobs; wait %1; echo status=\\$?\'" /dev/null | sed "s/\\[1\\] [0-9]*/[1] N/"',
  ],
  [
    'dpkg and apt',
    'dpkg -l bash coreutils | tail -2 | gawk "{print \\$1, \\$2}"; apt-get --simulate --no-download install bash 2>&1 | tail -1',
  ],
];

const PY: [string, string][] = [
  [
    'python3 one-liners',
    'import sys, os, json; print(sys.version_info[:2], os.getpid(), json.dumps({"a": [1, 2]}))',
  ],
  [
    'python3 threads',
    'import threading; n = [0]; l = threading.Lock()\ndef w():\n  for _ in range(1000):\n    with l: n[0] += 1\nts = [threading.Thread(target=w) for _ in range(8)]\n[t.start() for t in ts]; [t.join() for t in ts]; print(n[0])',
  ],
  [
    'python3 subprocess pipelines',
    'import subprocess as s; p1 = s.Popen(["seq", "100"], stdout=s.PIPE); p2 = s.Popen(["grep", "7"], stdin=p1.stdout, stdout=s.PIPE); p1.stdout.close(); print(p2.communicate()[0].decode().split()); print(s.run(["sh", "-c", "exit 5"]).returncode)',
  ],
  [
    'python3 multiprocessing with 4 workers',
    'import multiprocessing as mp\ndef sq(x): return x * x\nwith mp.Pool(4) as p: print(sum(p.map(sq, range(100))))',
  ],
  [
    'python3 sqlite3 on tmpfs',
    'import sqlite3, os\ndb = sqlite3.connect("/tmp/t.db"); db.execute("create table t(x)")\ndb.executemany("insert into t values(?)", [(i,) for i in range(1000)]); db.commit()\nprint(db.execute("select sum(x), count(*) from t").fetchone()); db.close(); os.unlink("/tmp/t.db")',
  ],
  [
    'python3 socketpair and selectors',
    'import socket, selectors\na, b = socket.socketpair(); sel = selectors.DefaultSelector(); sel.register(b, selectors.EVENT_READ)\nprint(sel.select(0)); a.send(b"ping"); ev = sel.select(1); print(len(ev), b.recv(4)); a.close(); print(b.recv(4))',
  ],
  [
    'python3 tempfile and os.walk',
    'import tempfile, os\nwith tempfile.TemporaryDirectory() as d:\n  open(os.path.join(d, "f"), "w").write("x")\n  print(sorted(os.listdir(d)))\nprint(sum(len(f) for _, _, f in os.walk("/usr/lib/python3.11/json")))',
  ],
];

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
  for (const [name, script] of BASH)
    it(`bash: ${name}`, () => {
      const n = direct(['/bin/bash', '-c', script]);
      const s = onCfs(['/bin/bash', '-c', script]);
      assert.equal(s.stdout, n.stdout, 'stdout');
      assert.equal(s.stderr, n.stderr, 'stderr');
      assert.equal(s.status, n.status, 'exit status');
    });
  for (const [name, code] of PY)
    it(name, () => {
      const n = direct(['/usr/bin/python3', '-c', code]);
      const s = onCfs(['/usr/bin/python3', '-c', code]);
      assert.equal(s.stdout, n.stdout, 'stdout');
      assert.equal(s.stderr, n.stderr, 'stderr');
      assert.equal(s.status, n.status, 'exit status');
    });
  it('python3: every pure-Python standard library module imports', () => {
    const code = [
      'import pkgutil, importlib, sys, warnings',
      'warnings.simplefilter("ignore")',
      'skip = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "ensurepip", "venv", "pydoc_data"}',
      'ok = bad = 0',
      'for m in sorted(x.name for x in pkgutil.iter_modules(["/usr/lib/python3.11"])):',
      '  if m in skip or m.startswith("_"): continue',
      '  try: importlib.import_module(m); ok += 1',
      '  except Exception as e: bad += 1; print("FAIL", m, type(e).__name__)',
      'print("imported", ok, "failed", bad)',
    ].join('\n');
    const n = direct(['/usr/bin/python3', '-c', code]);
    const s = onCfs(['/usr/bin/python3', '-c', code]);
    assert.match(n.stdout, /imported \d+ failed/);
    assert.equal(s.stdout, n.stdout);
  });
});
