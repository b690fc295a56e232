/**
 * The busybox suite's scripts, shared by the suites that run them on other roots
 * (plugins/fs-containerfs/test/busybox.test.ts).
 */
export const CASES: [string, string][] = [
  ['echo and exit status', 'echo hello; echo "$0" >/dev/null; exit 3'],
  ['pipelines', 'seq 1 200 | grep 7 | sort -r | head -5 | tr "\\n" " "; echo'],
  [
    'redirections',
    'mkdir -p $D && cd $D && echo one >f && echo two >>f && cat <f && cat f 2>&1 >/dev/null nosuch; echo "rc=$?"; ls nosuch 2>&1; exec 3>g; echo fd3 >&3; exec 3>&-; cat g',
  ],
  ['here-docs', 'cat <<EOF\nline $((1+2))\n  indented\nEOF\ncat <<"EOF"\n$NOT expanded\nEOF'],
  [
    'subshells and variables',
    'x=1; (x=2; echo in $x); echo out $x; y=$(echo sub; exit 4); echo "$y $?"; echo ${#PATH} >/dev/null; set -- a b c; echo $# $2',
  ],
  [
    'background jobs and wait',
    'sleep 0.2 & p=$!; (exit 7) & q=$!; wait $q; echo "q=$?"; wait $p; echo "p=$?"; true & wait; echo all',
  ],
  [
    'trap and kill',
    'trap "echo got USR1" USR1; kill -USR1 $$; trap "echo bye" EXIT; sh -c "kill -TERM \\$\\$"; echo "killed=$?"',
  ],
  [
    'functions, loops, case',
    'f() { local i=0; while [ $i -lt $1 ]; do i=$((i+1)); done; echo $i; }; f 50; for w in a b c; do case $w in b) echo B;; *) echo $w;; esac; done',
  ],
  [
    'file tools',
    'mkdir -p $D/a/b && cd $D && echo data >a/x && cp a/x a/b/y && mv a/b/y a/z && ln -s x a/lx && ln a/x a/hx && ls -1 a | sort && cat a/lx a/z && rm -r a/b && find a | sort && rm -rf a && ls',
  ],
  [
    'text tools',
    'printf "b 2\\na 1\\nb 2\\nc 3\\n" > /tmp/t.$$; sort /tmp/t.$$ | uniq -c; cut -d" " -f2 /tmp/t.$$ | sort -n | uniq; awk "{s+=\\$2} END {print s}" /tmp/t.$$; sed -n "s/b/B/p" /tmp/t.$$; wc /tmp/t.$$ | awk "{print \\$1,\\$2,\\$3}"; tail -n 2 /tmp/t.$$; head -c 5 /tmp/t.$$; echo; rm /tmp/t.$$',
  ],
  ['xargs', 'seq 1 10 | xargs -n 3 echo | tr "\\n" ";"; echo'],
  [
    'tar and gzip',
    'mkdir -p $D/t && cd $D && echo hello >t/a && seq 1 1000 >t/b && tar cf x.tar t && rm -r t && tar xf x.tar && cat t/a && wc -l <t/b && gzip -9 t/b && ls t && gzip -d t/b.gz && md5sum t/b | cut -c1-32',
  ],
  [
    'checksums and dd',
    'seq 1 5000 | md5sum; seq 1 5000 | sha256sum; dd if=/dev/zero bs=1024 count=64 2>/dev/null | md5sum; dd if=/dev/zero of=/dev/null bs=4096 count=100 2>&1 | head -2 | sed "s/[0-9.]* seconds.*//"',
  ],
  ['seq and sleep', 'seq 3; seq 10 -3 1 | tr "\\n" ,; echo; sleep 0.1; echo slept'],
  [
    'stat touch chmod',
    'mkdir -p $D && cd $D && touch -d "2020-01-02 03:04:05" f && chmod 640 f && stat -c "%n %s %a %F" f && chmod u+x f && stat -c %A f && touch g && [ g -nt f ] && echo newer',
  ],
  ['missing command', 'nosuchcommand 2>&1; echo "rc=$?"'],
  [
    'df and mount',
    'df -P / >/dev/null; echo "df rc=$?"; df -P / | head -1; mount | grep -q "^proc on /proc type proc" && echo proc mounted; mount | grep -q " on / " && echo root mounted',
  ],
  ['exit by signal', 'kill -9 $$'],
];

/**
 * Scripts that look at processes: natively they run as pid 1 of a fresh PID namespace with
 * its own /proc (unshare --pid --fork --mount-proc), as the sandbox's init does.
 */
export const PID_CASES: [string, string][] = [
  ['ps', 'sleep 2 & sleep 0.3; ps -o pid,ppid,user,comm; kill $!'],
  [
    'top -b -n1',
    'sleep 2 & sleep 0.3; top -b -n1 | sed -n "4,\\$p" | awk "{print \\$1, \\$2, \\$3}" | sort -n; kill $!',
  ],
  [
    '/proc/self',
    'echo $$; cat /proc/self/stat | cut -d" " -f1-4; cat /proc/$$/cmdline | tr "\\0" " "; echo; readlink /proc/self/exe; ls /proc/self/fd | sort -n | head -3',
  ],
];
