/**
 * The line discipline between a pty master and its slave (Linux's n_tty, as gVisor's
 * kernel/tty's lineDiscipline): one Termios for the pair, an input queue the slave reads
 * (fed by master writes through input processing) and an output queue the master reads
 * (fed by slave writes and echoes through output processing).
 *
 * Input processing, per byte: ISTRIP; IGNCR/ICRNL/INLCR; IXON's START/STOP; ISIG's
 * INTR/QUIT/SUSP (the hook signals the foreground process group and, unless NOFLSH, both
 * queues are flushed); then in canonical mode (ICANON) line editing — ERASE, WERASE and
 * LNEXT/REPRINT (IEXTEN), KILL, EOF (ends the line without a byte; an empty line reads
 * as end of file), NL/EOL/EOL2 (end the line) — with ECHO, ECHOE, ECHOK, ECHOKE, ECHONL
 * and ECHOCTL echoes; in non-canonical mode bytes are readable at once.
 *
 * Output processing (OPOST): ONLCR, OCRNL, ONOCR, ONLRET, OLCUC and XTABS.
 *
 * Capacities: the input queue holds N_TTY_BUF_SIZE (4096) bytes; in canonical mode a full
 * line buffer drops further bytes (as Linux), otherwise the master's writer waits. The
 * output queue holds OUTPUT_CAPACITY bytes; echoes are never refused.
 */
import {
  ECHO,
  ECHOCTL,
  ECHOE,
  ECHOK,
  ECHOKE,
  ECHONL,
  ICANON,
  ICRNL,
  IEXTEN,
  IGNCR,
  INLCR,
  ISIG,
  ISTRIP,
  IUCLC,
  IXANY,
  IXON,
  NOFLSH,
  OCRNL,
  OLCUC,
  ONLCR,
  ONLRET,
  ONOCR,
  OPOST,
  Termios,
  VEOF,
  VEOL,
  VEOL2,
  VERASE,
  VINTR,
  VKILL,
  VLNEXT,
  VQUIT,
  VREPRINT,
  VSTART,
  VSTOP,
  VSUSP,
  VWERASE,
  XTABS,
} from './termios';

export const N_TTY_BUF_SIZE = 4096;
export const OUTPUT_CAPACITY = 65536;

const SIGINT = 2,
  SIGQUIT = 3,
  SIGTSTP = 20;

/** A growable FIFO of bytes. */
export class ByteQueue {
  private buf = new Uint8Array(256);
  private head = 0;
  len = 0;

  push(c: number): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) % this.buf.length] = c;
    this.len++;
  }
  pushAll(b: ArrayLike<number>): void {
    for (let i = 0; i < b.length; i++) this.push(b[i]);
  }
  /** Byte `i` from the front. */
  at(i: number): number {
    return this.buf[(this.head + i) % this.buf.length];
  }
  /** Remove up to `max` bytes into the segments; returns the count. */
  take(dst: readonly Uint8Array[], max = Infinity): number {
    let done = 0;
    const cap = this.buf.length;
    for (const seg of dst) {
      let o = 0;
      while (o < seg.length && this.len > 0 && done < max) {
        const n = Math.min(seg.length - o, this.len, cap - this.head, max - done);
        seg.set(this.buf.subarray(this.head, this.head + n), o);
        o += n;
        done += n;
        this.head = (this.head + n) % cap;
        this.len -= n;
      }
      if (this.len === 0 || done >= max) break;
    }
    if (this.len === 0) this.head = 0;
    return done;
  }
  clear(): void {
    this.head = this.len = 0;
  }
  private grow(): void {
    const nb = new Uint8Array(this.buf.length * 2);
    for (let i = 0; i < this.len; i++) nb[i] = this.at(i);
    this.buf = nb;
    this.head = 0;
  }
}

export interface LineDisciplineHooks {
  /** ISIG: signal the terminal's foreground process group. */
  signal(signo: number): void;
}

const isCntrl = (c: number): boolean => c < 0x20 || c === 0x7f;
const isAlnum = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c >= 0x80;

export class LineDiscipline {
  readonly termios = new Termios();
  /** What the slave reads: completed lines (canonical) or raw bytes. */
  readonly input = new ByteQueue();
  /** Canonical mode: lengths of the complete lines at the front of `input` (0 = EOF). */
  private lines: number[] = [];
  /** Canonical mode: the line being edited (not readable yet). */
  private edit: number[] = [];
  /** What the master reads: processed output and echoes. */
  readonly output = new ByteQueue();
  /** Output column (for ONOCR, XTABS and erase). */
  private column = 0;
  /** Output stopped by the STOP character or TCOOFF. */
  stopped = false;
  /** The previous byte was LNEXT: take this one literally. */
  private literal = false;

  constructor(private readonly hooks: LineDisciplineHooks) {}

  get canonical(): boolean {
    return (this.termios.lflag & ICANON) !== 0;
  }

  /** Bytes a read may return now (canonical: the complete lines only). */
  readable(): number {
    if (!this.canonical) return this.input.len;
    let n = 0;
    for (const l of this.lines) n += l;
    return n;
  }

  /** A canonical read would return now (data, or an EOF line). */
  lineReady(): boolean {
    return this.lines.length > 0;
  }

  /** Room left for master writes (0: the writer waits). */
  inputRoom(): number {
    if (this.canonical) return N_TTY_BUF_SIZE;
    return Math.max(0, N_TTY_BUF_SIZE - this.input.len);
  }

  /** Apply new termios bytes, moving data between the canonical and raw views as Linux does. */
  setTermios(b: Uint8Array): void {
    const was = this.canonical;
    this.termios.decode(b);
    const now = this.canonical;
    if (was && !now) {
      this.input.pushAll(this.edit);
      this.edit = [];
      this.lines = [];
    } else if (!was && now) {
      this.lines = this.input.len ? [this.input.len] : [];
    }
    if (!(this.termios.iflag & IXON)) this.stopped = false;
  }

  /** Discard what the slave has not read (TCIFLUSH on the slave, TCOFLUSH on the master). */
  flushInput(): void {
    this.input.clear();
    this.lines = [];
    this.edit = [];
  }

  // ---------------------------------------------------------------- reading

  /** Canonical read: up to one line. Returns the byte count (0 = end of file); call only when lineReady(). */
  readLine(dst: readonly Uint8Array[]): number {
    const len = this.lines[0];
    if (len === 0) {
      this.lines.shift();
      return 0;
    }
    const n = this.input.take(dst, len);
    if (n === len) this.lines.shift();
    else this.lines[0] = len - n;
    return n;
  }

  /** Non-canonical read of up to `max` bytes. */
  readRaw(dst: readonly Uint8Array[], max = Infinity): number {
    return this.input.take(dst, max);
  }

  // ---------------------------------------------------------------- input (master writes)

  /**
   * Feed bytes typed on the master. Returns how many were consumed (fewer when the raw
   * input queue is full).
   */
  receive(src: readonly Uint8Array[]): number {
    let done = 0;
    for (const seg of src)
      for (let i = 0; i < seg.length; i++) {
        if (!this.canonical && this.input.len >= N_TTY_BUF_SIZE) return done;
        this.receiveByte(seg[i]);
        done++;
      }
    return done;
  }

  /** Input processing of one byte (n_tty_receive_char). */
  receiveByte(c: number): void {
    const t = this.termios;
    const lflag = t.lflag;
    if (t.iflag & ISTRIP) c &= 0x7f;
    if (this.literal) {
      this.literal = false;
      this.store(c, true); // its echo overwrites the "^" LNEXT echoed
      return;
    }
    if (t.iflag & IUCLC && lflag & IEXTEN && c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c === 0x0d) {
      if (t.iflag & IGNCR) return;
      if (t.iflag & ICRNL) c = 0x0a;
    } else if (c === 0x0a && t.iflag & INLCR) c = 0x0d;

    if (t.iflag & IXON) {
      if (c === t.ch(VSTOP)) {
        this.stopped = true;
        return;
      }
      if (c === t.ch(VSTART)) {
        this.stopped = false;
        return;
      }
      if (this.stopped && t.iflag & IXANY) this.stopped = false;
    }

    if (lflag & ISIG) {
      const sig = c === t.ch(VINTR) ? SIGINT : c === t.ch(VQUIT) ? SIGQUIT : c === t.ch(VSUSP) ? SIGTSTP : 0;
      if (sig) {
        if (!(lflag & NOFLSH)) {
          // Linux flushes the input and what the master has not taken yet (pty_flush_buffer).
          this.flushInput();
          this.output.clear();
        }
        this.hooks.signal(sig);
        if (t.iflag & IXON) this.stopped = false;
        if (lflag & ECHO) this.echoChar(c);
        return;
      }
    }

    if (lflag & ICANON) {
      if (c === t.ch(VERASE) || c === t.ch(VKILL) || (c === t.ch(VWERASE) && lflag & IEXTEN)) {
        this.erase(c);
        return;
      }
      if (c === t.ch(VLNEXT) && lflag & IEXTEN) {
        this.literal = true;
        if (lflag & ECHO) this.echoRaw([0x5e, 0x08]);
        return;
      }
      if (c === t.ch(VREPRINT) && lflag & IEXTEN && lflag & ECHO) {
        this.echoChar(c);
        this.echoRaw([0x0a]);
        for (const e of this.edit) this.echoChar(e);
        return;
      }
      if (c === 0x0a) {
        if (lflag & (ECHO | ECHONL)) this.echoRaw([0x0a]);
        this.edit.push(c);
        this.commitLine();
        return;
      }
      if (c === t.ch(VEOF)) {
        this.commitLine();
        return;
      }
      if (c === t.ch(VEOL) || c === t.ch(VEOL2)) {
        if (lflag & ECHO) this.echoChar(c);
        this.edit.push(c);
        this.commitLine();
        return;
      }
    }
    this.store(c, false);
  }

  /** A plain byte: echo it and add it to the line (canonical) or the readable queue. */
  private store(c: number, literal: boolean): void {
    const lflag = this.termios.lflag;
    if (lflag & ECHO) {
      if (literal && c === 0x0a) this.echoRaw([0x0a]);
      else this.echoChar(c);
    }
    if (lflag & ICANON) {
      if (this.edit.length + this.input.len < N_TTY_BUF_SIZE - 1) this.edit.push(c);
    } else this.input.push(c);
  }

  private commitLine(): void {
    this.input.pushAll(this.edit);
    this.lines.push(this.edit.length);
    this.edit = [];
  }

  /** ERASE, WERASE and KILL (Linux's eraser). */
  private erase(c: number): void {
    const t = this.termios;
    const lflag = t.lflag;
    if (this.edit.length === 0) return;
    const kill = c === t.ch(VKILL);
    const werase = !kill && c !== t.ch(VERASE);
    if (kill) {
      if (!(lflag & ECHO)) {
        this.edit = [];
        return;
      }
      if (!(lflag & ECHOK) || !(lflag & ECHOKE) || !(lflag & ECHOE)) {
        this.edit = [];
        this.echoChar(c);
        if (lflag & ECHOK) this.echoRaw([0x0a]);
        return;
      }
    }
    let alnums = 0;
    while (this.edit.length) {
      const e = this.edit[this.edit.length - 1];
      if (werase) {
        if (isAlnum(e) || e === 0x5f) alnums++;
        else if (alnums) break;
      }
      this.edit.pop();
      if (lflag & ECHO) {
        if (!kill && !werase && !(lflag & ECHOE)) this.echoChar(c);
        else if (isCntrl(e) && e !== 0x09) {
          if (lflag & ECHOCTL) this.erasePrev(2);
        } else this.erasePrev(1);
      }
      if (!kill && !werase) break;
    }
  }

  /** Echo "\b \b" `n` times. */
  private erasePrev(n: number): void {
    for (let i = 0; i < n; i++) this.echoRaw([0x08, 0x20, 0x08]);
  }

  /** Echo one input byte: control characters as ^X under ECHOCTL (not TAB or NL). */
  private echoChar(c: number): void {
    if (this.termios.lflag & ECHOCTL && isCntrl(c) && c !== 0x09 && c !== 0x0a)
      this.echoRaw([0x5e, c ^ 0o100]);
    else this.echoRaw([c]);
  }

  private echoRaw(bytes: readonly number[]): void {
    for (const b of bytes) this.outputByte(b);
  }

  // ---------------------------------------------------------------- output (slave writes)

  /**
   * Bytes the slave wrote, processed into the master's queue. Returns how many source
   * bytes were consumed (0 while output is stopped or the queue is full).
   */
  transmit(src: readonly Uint8Array[]): number {
    let done = 0;
    for (const seg of src)
      for (let i = 0; i < seg.length; i++) {
        if (this.stopped || this.output.len >= OUTPUT_CAPACITY) return done;
        this.outputByte(seg[i]);
        done++;
      }
    return done;
  }

  /** Output processing of one byte (do_output_char / opost). */
  private outputByte(c: number): void {
    const o = this.termios.oflag;
    const out = this.output;
    if (!(o & OPOST)) {
      out.push(c);
      return;
    }
    switch (c) {
      case 0x0a:
        if (o & ONLRET) this.column = 0;
        if (o & ONLCR) {
          this.column = 0;
          out.push(0x0d);
        }
        out.push(c);
        return;
      case 0x0d:
        if (o & ONOCR && this.column === 0) return;
        if (o & OCRNL) {
          c = 0x0a;
          if (o & ONLRET) this.column = 0;
        } else this.column = 0;
        out.push(c);
        return;
      case 0x09: {
        const spaces = 8 - (this.column & 7);
        if ((o & XTABS) === XTABS) {
          for (let i = 0; i < spaces; i++) out.push(0x20);
        } else out.push(c);
        this.column += spaces;
        return;
      }
      case 0x08:
        if (this.column > 0) this.column--;
        out.push(c);
        return;
      default:
        if (o & OLCUC && c >= 0x61 && c <= 0x7a) c -= 0x20;
        if (!isCntrl(c)) this.column++;
        out.push(c);
    }
  }
}
