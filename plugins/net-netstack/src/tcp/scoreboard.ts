/**
 * The sender's SACK scoreboard (RFC 6675 §3): which bytes above SND.UNA the peer has
 * reported holding (RFC 2018 SACK blocks), as sorted, disjoint, non-adjacent [start, end)
 * ranges in sequence space, all within SND.UNA..SND.MAX. From it come the RFC 6675
 * predicates the endpoint's loss recovery needs: IsLost (as one "lost below" boundary),
 * the SACKed bytes in a range (for `pipe`), the next unSACKed byte and the highest SACKed
 * one.
 *
 * The peer is never trusted: blocks outside SND.UNA..SND.MAX (or empty, or reversed) are
 * ignored, D-SACK blocks below SND.UNA with them, and the number of ranges held is capped
 * (a new disjoint range beyond the cap is ignored), so a hostile peer can neither make the
 * scoreboard grow without bound nor make it claim anything outside what was sent.
 *
 * Sequence numbers are unsigned 32-bit values compared modulo 2^32 (seqLT & co.).
 */
import { seqDiff, seqGE, seqGT, seqLE, seqLT } from './segment';

/** At most this many disjoint SACKed ranges are held (more are ignored, not an error). */
export const MAX_SACK_RANGES = 1024;

/** RFC 6675's DupThresh: segments SACKed above a hole before it counts as lost. */
export const DUP_THRESH = 3;

/** What one ACK's SACK blocks changed. */
export interface SackUpdate {
  /** Bytes SACKed for the first time by this ACK (0: nothing new, e.g. a D-SACK only). */
  newlySacked: number;
  /** Blocks ignored as invalid (outside SND.UNA..SND.MAX, empty, beyond the cap). */
  rejected: number;
}

export class SackScoreboard {
  /** Range starts and ends (exclusive), in sequence order. */
  private starts: number[] = [];
  private ends: number[] = [];

  /** Number of disjoint SACKed ranges held. */
  get ranges(): number {
    return this.starts.length;
  }

  get empty(): boolean {
    return this.starts.length === 0;
  }

  /** The ranges as [start, end) pairs, in sequence order (a copy). */
  list(): [number, number][] {
    return this.starts.map((s, i) => [s, this.ends[i]]);
  }

  clear(): void {
    this.starts = [];
    this.ends = [];
  }

  /**
   * Records an ACK's SACK blocks (flattened [left, right) pairs). Only blocks with
   * una <= left < right <= max (SND.MAX) are taken; a block's right edge is cut to
   * `dataEnd` (the FIN's sequence number once a FIN is out: the FIN itself is never taken
   * as SACKed, so it is always resent with the data before it).
   */
  update(blocks: readonly number[], una: number, max: number, dataEnd = max): SackUpdate {
    let newlySacked = 0;
    let rejected = 0;
    for (let i = 0; i + 1 < blocks.length; i += 2) {
      const left = blocks[i] >>> 0;
      let right = blocks[i + 1] >>> 0;
      if (seqLE(right, una) && seqLT(left, right)) continue; // a D-SACK, or stale
      if (!seqLT(left, right) || seqLT(left, una) || seqGT(right, max)) {
        rejected++;
        continue;
      }
      if (seqGT(right, dataEnd)) right = dataEnd;
      if (!seqLT(left, right)) continue;
      const added = this.add(left, right);
      if (added < 0) rejected++;
      else newlySacked += added;
    }
    return { newlySacked, rejected };
  }

  /**
   * Merges [left, right) in; returns the bytes it added, or -1 if it was refused (it
   * would have been a new range beyond MAX_SACK_RANGES).
   */
  private add(left: number, right: number): number {
    const n = this.starts.length;
    // First range that ends at or after `left` (it may touch or overlap the new one).
    let i = 0;
    while (i < n && seqLT(this.ends[i], left)) i++;
    // Ranges i..j-1 touch or overlap [left, right).
    let j = i;
    let covered = 0;
    let lo = left;
    let hi = right;
    while (j < n && seqLE(this.starts[j], right)) {
      if (seqLT(this.starts[j], lo)) lo = this.starts[j];
      if (seqGT(this.ends[j], hi)) hi = this.ends[j];
      covered += seqDiff(this.ends[j], this.starts[j]);
      j++;
    }
    if (j === i && n >= MAX_SACK_RANGES) return -1;
    this.starts.splice(i, j - i, lo);
    this.ends.splice(i, j - i, hi);
    return seqDiff(hi, lo) - covered;
  }

  /** SND.UNA moved to `una`: forgets what lies below it. */
  advance(una: number): void {
    let k = 0;
    const n = this.starts.length;
    while (k < n && seqLE(this.ends[k], una)) k++;
    if (k > 0) {
      this.starts.splice(0, k);
      this.ends.splice(0, k);
    }
    if (this.starts.length && seqLT(this.starts[0], una)) this.starts[0] = una;
  }

  /** Whether the byte at `seq` is SACKed. */
  isSacked(seq: number): boolean {
    for (let i = 0; i < this.starts.length; i++) {
      if (seqLT(seq, this.starts[i])) return false;
      if (seqLT(seq, this.ends[i])) return true;
    }
    return false;
  }

  /** The end of the highest SACKed range (exclusive), or `una` if nothing is SACKed. */
  highEnd(una: number): number {
    return this.ends.length ? this.ends[this.ends.length - 1] : una;
  }

  /** SACKed bytes within [from, to). */
  sackedIn(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i];
      const e = this.ends[i];
      if (seqLE(e, from)) continue;
      if (seqGE(s, to)) break;
      n += seqDiff(seqLT(e, to) ? e : to, seqGT(s, from) ? s : from);
    }
    return n;
  }

  /** The first byte at or after `seq` that is not SACKed. */
  nextUnsacked(seq: number): number {
    let s = seq;
    for (let i = 0; i < this.starts.length; i++) {
      if (seqLT(s, this.starts[i])) break;
      if (seqLT(s, this.ends[i])) s = this.ends[i];
    }
    return s;
  }

  /** The start of the first SACKed range above `seq` (or `otherwise` if there is none). */
  nextSacked(seq: number, otherwise: number): number {
    for (let i = 0; i < this.starts.length; i++) if (seqGT(this.starts[i], seq)) return this.starts[i];
    return otherwise;
  }

  /**
   * RFC 6675's IsLost as a boundary: every unSACKed byte below the returned sequence
   * number is lost — at least DupThresh discontiguous SACKed ranges, or more than
   * (DupThresh - 1) * mss SACKed bytes, lie above it — and no unSACKed byte above it is.
   * Returns `una` when nothing is lost. (Both conditions only grow towards lower sequence
   * numbers, so the boundary is the start of the highest range where one first holds.)
   */
  lostBelow(una: number, mss: number): number {
    let bytes = 0;
    for (let i = this.starts.length - 1; i >= 0; i--) {
      bytes += seqDiff(this.ends[i], this.starts[i]);
      if (this.starts.length - i >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return this.starts[i];
    }
    return una;
  }
}
