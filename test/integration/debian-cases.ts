import * as assert from 'node:assert/strict';
import type { RunResult } from './harness';

/**
 * The Debian suite's bash and python3 cases, shared by the suites that run them on other
 * roots (plugins/fs-containerfs/test/debian.test.ts).
 */
export const BASH: [string, string][] = [
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

export const PY: [string, string][] = [
  [
    'python3 one-liners',
    'import sys, os, json; print(sys.version_info[:2], os.getpid(), json.dumps({"a": [1, 2]}))',
  ],
  [
    'python3 threads',
    'import threading; n = [0]; l = threading.Lock()\ndef w():\n  for _ in range(1000):\n    with l: n[0] += 1\nts = [threading.Thread(target=w) for _ in range(8)]\n[t.start() for t in ts]; [t.join() for t in ts]; print(n[0])',
  ],
  [
    // Each thread reuses the last one's cached stack, which glibc discards (MADV_DONTNEED)
    // as the thread exits while the joining thread reads the thread's descriptor on it.
    'python3 threads started and joined one at a time',
    'import threading, sys\nfor i in range(1, 150):\n  sys.setswitchinterval(i * 0.0002)\n  t = threading.Thread(target=lambda: None); t.start(); t.join()\nprint("joined", i)',
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

/** Runs argv one way (natively chrooted, or in a sandbox) and says what happened. */
export type Runner = (argv: string[]) => RunResult;

/**
 * Registers one mocha test per case (inside the caller's describe): each runs under
 * `reference` and `candidate`, which must give the same stdout, stderr and exit status.
 */
export function compareDebianCases(reference: Runner, candidate: Runner): void {
  const same = (argv: string[]) => {
    const n = reference(argv);
    const s = candidate(argv);
    assert.equal(s.stdout, n.stdout, 'stdout');
    assert.equal(s.stderr, n.stderr, 'stderr');
    assert.equal(s.status, n.status, 'exit status');
  };
  for (const [name, script] of BASH) it(`bash: ${name}`, () => same(['/bin/bash', '-c', script]));
  for (const [name, code] of PY) it(name, () => same(['/usr/bin/python3', '-c', code]));
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
    const n = reference(['/usr/bin/python3', '-c', code]);
    const s = candidate(['/usr/bin/python3', '-c', code]);
    assert.match(n.stdout, /imported \d+ failed/);
    assert.equal(s.stdout, n.stdout);
  });
}
