/**
 * Socket control messages (Linux's net/core/scm.c): parsing what sendmsg(2) attaches
 * (SCM_RIGHTS, SCM_CREDENTIALS at SOL_SOCKET) and building what recvmsg(2) returns.
 *
 * Layout (x86-64): struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; }
 * = 16 bytes, data 8-byte aligned (CMSG_ALIGN).
 */
import { EBADF, EINVAL, EPERM, SysError } from '../abi/errno';
import { CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN, hasCap } from '../kernel/caps';
import type { FileDescription } from '../vfs/file';
import type { FileTask } from '../vfs/task';
import { MSG_CTRUNC, SCM_CREDENTIALS, SCM_RIGHTS, SendControl, SOL_SOCKET, Ucred } from './socket';

export const CMSG_HDR = 16;
/** SCM_MAX_FD: most descriptors one message may carry. */
export const SCM_MAX_FD = 253;

export const cmsgAlign = (n: number): number => (n + 7) & ~7;
export const cmsgSpace = (n: number): number => CMSG_HDR + cmsgAlign(n);
export const cmsgLen = (n: number): number => CMSG_HDR + n;

/** Drop the references a parsed control holds (on a failed send). */
export function releaseControl(c: SendControl | null): void {
  if (c?.rights) for (const f of c.rights) f.decRef();
}

/**
 * __scm_send: walk the control buffer. Takes a reference on every file passed. EINVAL for
 * a malformed header, an unknown SOL_SOCKET type or too many fds; EBADF for a bad fd;
 * EPERM for credentials the sender may not claim. Other levels are ignored.
 */
export function parseSendControl(t: FileTask, buf: Uint8Array): SendControl | null {
  if (buf.length === 0) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: SendControl = { rights: null, cred: null };
  try {
    let off = 0;
    while (off + CMSG_HDR <= buf.length) {
      const len = Number(dv.getBigUint64(off, true));
      const level = dv.getInt32(off + 8, true);
      const type = dv.getInt32(off + 12, true);
      if (len < CMSG_HDR || len > buf.length - off) throw new SysError(EINVAL);
      const dataLen = len - CMSG_HDR;
      const data = off + CMSG_HDR;
      if (level === SOL_SOCKET) {
        if (type === SCM_RIGHTS) {
          const n = Math.floor(dataLen / 4);
          if (n === 0) {
            // An empty SCM_RIGHTS is accepted and carries nothing.
          } else {
            const have = out.rights?.length ?? 0;
            if (have + n > SCM_MAX_FD) throw new SysError(EINVAL);
            out.rights ??= [];
            for (let i = 0; i < n; i++) {
              const f: FileDescription | undefined = t.files.get(dv.getInt32(data + 4 * i, true));
              if (!f || f.isPath) throw new SysError(EBADF);
              out.rights.push(f.incRef());
            }
          }
        } else if (type === SCM_CREDENTIALS) {
          if (dataLen !== 12) throw new SysError(EINVAL);
          const cred: Ucred = {
            pid: dv.getInt32(data, true),
            uid: dv.getUint32(data + 4, true),
            gid: dv.getUint32(data + 8, true),
          };
          checkCred(t, cred);
          out.cred = cred;
        } else {
          throw new SysError(EINVAL);
        }
      }
      off += cmsgAlign(len);
    }
  } catch (e) {
    releaseControl(out);
    throw e;
  }
  return out.rights || out.cred ? out : null;
}

/** scm_check_creds: one's own pid and ids, or CAP_SYS_ADMIN / CAP_SETUID / CAP_SETGID for others. */
function checkCred(t: FileTask, c: Ucred): void {
  const cr = t.creds;
  if (c.pid !== t.tgid && !hasCap(cr, CAP_SYS_ADMIN)) throw new SysError(EPERM);
  if (c.uid !== cr.uid && c.uid !== cr.euid && c.uid !== cr.suid && !hasCap(cr, CAP_SETUID))
    throw new SysError(EPERM);
  if (c.gid !== cr.gid && c.gid !== cr.egid && c.gid !== cr.sgid && !hasCap(cr, CAP_SETGID))
    throw new SysError(EPERM);
}

/**
 * Builds msg_control for recvmsg within `room` bytes (put_cmsg / scm_detach_fds):
 * credentials first, then the passed files, installed into the receiver's table.
 * Whatever does not fit sets MSG_CTRUNC; files that do not fit are dropped.
 */
export class ControlWriter {
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;
  flags = 0;

  constructor(readonly room: number) {
    this.buf = new Uint8Array(Math.max(0, room));
    this.dv = new DataView(this.buf.buffer);
  }

  private header(at: number, len: number, type: number): void {
    this.dv.setBigUint64(at, BigInt(len), true);
    this.dv.setInt32(at + 8, SOL_SOCKET, true);
    this.dv.setInt32(at + 12, type, true);
  }

  credentials(c: Ucred): void {
    const left = this.room - this.used;
    if (left < CMSG_HDR) {
      this.flags |= MSG_CTRUNC;
      return;
    }
    let len = cmsgLen(12);
    if (left < len) {
      this.flags |= MSG_CTRUNC;
      len = left;
    }
    const d = new Uint8Array(12);
    const v = new DataView(d.buffer);
    v.setInt32(0, c.pid, true);
    v.setUint32(4, c.uid >>> 0, true);
    v.setUint32(8, c.gid >>> 0, true);
    this.header(this.used, len, SCM_CREDENTIALS);
    this.buf.set(d.subarray(0, len - CMSG_HDR), this.used + CMSG_HDR);
    this.used += Math.min(cmsgSpace(12), left);
  }

  /** Install `files` (the caller keeps its references; installed fds take new ones). */
  rights(t: FileTask, files: readonly FileDescription[], cloexec: boolean): void {
    const left = this.room - this.used;
    let max = left > CMSG_HDR ? Math.floor((left - CMSG_HDR) / 4) : 0;
    if (max > files.length) max = files.length;
    const at = this.used;
    let i = 0;
    for (; i < max; i++) {
      let fd: number;
      try {
        fd = t.files.install(files[i].incRef(), cloexec);
      } catch {
        break;
      }
      this.dv.setInt32(at + CMSG_HDR + 4 * i, fd, true);
    }
    if (i > 0) {
      this.header(at, cmsgLen(i * 4), SCM_RIGHTS);
      this.used += Math.min(cmsgSpace(i * 4), left);
    }
    if (i < files.length) this.flags |= MSG_CTRUNC;
  }

  /** The bytes written (msg_controllen on return). */
  bytes(): Uint8Array | null {
    return this.used ? this.buf.subarray(0, this.used) : null;
  }
}
