/**
 * struct termios as the x86-64 kernel ABI lays it out (asm-generic/termbits.h), the flag
 * bits the line discipline honours, and Linux's defaults for a new terminal
 * (tty_std_termios with the pty slave's c_cflag: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD,
 * ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, INIT_C_CC).
 *
 * The kernel's struct termios (TCGETS) is 36 bytes: four u32 flag words, c_line, and 19
 * control characters; struct termios2 (TCGETS2) adds c_ispeed and c_ospeed (44 bytes).
 */

// c_cc indexes.
export const VINTR = 0,
  VQUIT = 1,
  VERASE = 2,
  VKILL = 3,
  VEOF = 4,
  VTIME = 5,
  VMIN = 6,
  VSWTC = 7,
  VSTART = 8,
  VSTOP = 9,
  VSUSP = 10,
  VEOL = 11,
  VREPRINT = 12,
  VDISCARD = 13,
  VWERASE = 14,
  VLNEXT = 15,
  VEOL2 = 16,
  NCCS = 19;

// c_iflag.
export const IGNBRK = 0o1,
  BRKINT = 0o2,
  IGNPAR = 0o4,
  PARMRK = 0o10,
  INPCK = 0o20,
  ISTRIP = 0o40,
  INLCR = 0o100,
  IGNCR = 0o200,
  ICRNL = 0o400,
  IUCLC = 0o1000,
  IXON = 0o2000,
  IXANY = 0o4000,
  IXOFF = 0o10000,
  IMAXBEL = 0o20000,
  IUTF8 = 0o40000;

// c_oflag.
export const OPOST = 0o1,
  OLCUC = 0o2,
  ONLCR = 0o4,
  OCRNL = 0o10,
  ONOCR = 0o20,
  ONLRET = 0o40,
  TABDLY = 0o14000,
  XTABS = 0o14000;

// c_cflag.
export const B38400 = 0o17,
  CS8 = 0o60,
  CREAD = 0o200,
  HUPCL = 0o2000,
  CLOCAL = 0o4000;

// c_lflag.
export const ISIG = 0o1,
  ICANON = 0o2,
  XCASE = 0o4,
  ECHO = 0o10,
  ECHOE = 0o20,
  ECHOK = 0o40,
  ECHONL = 0o100,
  NOFLSH = 0o200,
  TOSTOP = 0o400,
  ECHOCTL = 0o1000,
  ECHOPRT = 0o2000,
  ECHOKE = 0o4000,
  FLUSHO = 0o10000,
  PENDIN = 0o40000,
  IEXTEN = 0o100000,
  EXTPROC = 0o200000;

export const TERMIOS_SIZE = 36,
  TERMIOS2_SIZE = 44;

/** Linux's INIT_C_CC: ^C ^\ ^? ^U ^D 0 1 0 ^Q ^S ^Z 0 ^R ^O ^W ^V 0. */
const INIT_C_CC = [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0];

export class Termios {
  iflag = ICRNL | IXON;
  oflag = OPOST | ONLCR;
  cflag = B38400 | CS8 | CREAD;
  lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  line = 0;
  readonly cc = Uint8Array.from(INIT_C_CC);
  ispeed = 38400;
  ospeed = 38400;

  /** struct termios (36 bytes) or, with `two`, struct termios2 (44 bytes). */
  encode(two = false): Uint8Array {
    const b = new Uint8Array(two ? TERMIOS2_SIZE : TERMIOS_SIZE);
    const v = new DataView(b.buffer);
    v.setUint32(0, this.iflag, true);
    v.setUint32(4, this.oflag, true);
    v.setUint32(8, this.cflag, true);
    v.setUint32(12, this.lflag, true);
    b[16] = this.line;
    b.set(this.cc, 17);
    if (two) {
      v.setUint32(36, this.ispeed, true);
      v.setUint32(40, this.ospeed, true);
    }
    return b;
  }

  /** Load from struct termios / termios2 bytes. */
  decode(b: Uint8Array): void {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.iflag = v.getUint32(0, true);
    this.oflag = v.getUint32(4, true);
    this.cflag = v.getUint32(8, true);
    this.lflag = v.getUint32(12, true);
    this.line = b[16];
    this.cc.set(b.subarray(17, 17 + NCCS));
    if (b.byteLength >= TERMIOS2_SIZE) {
      this.ispeed = v.getUint32(36, true);
      this.ospeed = v.getUint32(40, true);
    }
  }

  /** Control character `i`, or -1 when disabled (_POSIX_VDISABLE is 0 on Linux). */
  ch(i: number): number {
    const c = this.cc[i];
    return c === 0 ? -1 : c;
  }
}
