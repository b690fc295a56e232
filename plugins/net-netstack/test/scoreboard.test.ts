/**
 * The sender's SACK scoreboard (src/tcp/scoreboard.ts) on its own: merging, validation of
 * the peer's blocks, RFC 6675's IsLost boundary, the byte counts pipe is made of, sequence
 * wrap-around and the cap on ranges. Expected values are worked out by hand from the RFC's
 * definitions.
 */
import { strict as assert } from 'node:assert';
import { MAX_SACK_RANGES, SackScoreboard } from '../src/tcp/scoreboard';

const MSS = 1000;

describe('netstack TCP SACK scoreboard', () => {
  it('merges overlapping and adjacent blocks and counts only newly SACKed bytes', () => {
    const sb = new SackScoreboard();
    assert.deepEqual(sb.update([2000, 3000], 1000, 10000), { newlySacked: 1000, rejected: 0 });
    assert.deepEqual(sb.update([5000, 6000, 2000, 3000], 1000, 10000), { newlySacked: 1000, rejected: 0 });
    assert.deepEqual(sb.list(), [
      [2000, 3000],
      [5000, 6000],
    ]);
    // Adjacent on both sides: one range.
    assert.equal(sb.update([3000, 5000], 1000, 10000).newlySacked, 2000);
    assert.deepEqual(sb.list(), [[2000, 6000]]);
    // Overlapping several, extending both ends.
    sb.update([8000, 9000], 1000, 10000);
    assert.equal(sb.update([1500, 9500], 1000, 10000).newlySacked, 500 + 2000 + 500);
    assert.deepEqual(sb.list(), [[1500, 9500]]);
  });

  it('ignores blocks outside SND.UNA..SND.MAX, empty or reversed ones, and D-SACKs below SND.UNA', () => {
    const sb = new SackScoreboard();
    const r = sb.update([500, 1500, 9000, 10001, 3000, 3000, 4000, 3500], 1000, 10000);
    assert.deepEqual(r, { newlySacked: 0, rejected: 4 });
    // A D-SACK (below SND.UNA) is legitimate but says nothing about what is outstanding.
    assert.deepEqual(sb.update([200, 400], 1000, 10000), { newlySacked: 0, rejected: 0 });
    assert.ok(sb.empty);
    // A D-SACK inside a SACKed range adds nothing either.
    sb.update([2000, 4000], 1000, 10000);
    assert.deepEqual(sb.update([2500, 3000, 2000, 4000], 1000, 10000), { newlySacked: 0, rejected: 0 });
    // Up to SND.MAX is fine, but never the FIN (dataEnd): the block is cut before it.
    assert.equal(sb.update([9000, 10001], 1000, 10001, 10000).newlySacked, 1000);
    assert.deepEqual(sb.list(), [
      [2000, 4000],
      [9000, 10000],
    ]);
    // A block of nothing but the FIN: dropped quietly.
    assert.deepEqual(sb.update([10000, 10001], 1000, 10001, 10000), { newlySacked: 0, rejected: 0 });
  });

  it('IsLost: three SACKed segments, or three discontiguous ranges, above an unSACKed byte', () => {
    const sb = new SackScoreboard();
    // Segments of 1000 from 0; segment 2 (1000..2000) missing.
    sb.update([2000, 3000], 0, 10000);
    assert.equal(sb.lostBelow(0, MSS), 0, 'one segment SACKed above: not lost');
    sb.update([2000, 4000], 0, 10000);
    assert.equal(sb.lostBelow(0, MSS), 0, 'two segments (2 * MSS bytes, not more): not lost');
    sb.update([4000, 5000], 0, 10000);
    assert.equal(sb.lostBelow(0, MSS), 2000, 'three segments: everything unSACKed below 2000 is lost');
    // Three small discontiguous ranges above 6000 count as well.
    const sc = new SackScoreboard();
    sc.update([7000, 7100, 7200, 7300, 7400, 7500], 6000, 10000);
    assert.equal(sc.lostBelow(6000, MSS), 7000);
    sc.update([8000, 8100], 6000, 10000);
    assert.equal(sc.lostBelow(6000, MSS), 7200, 'three ranges above 7100..7200 now');
    assert.equal(new SackScoreboard().lostBelow(123, MSS), 123, 'nothing SACKed: nothing lost');
  });

  it('answers what pipe and NextSeg need: SACKed bytes in a range, the next unSACKed byte, the next range', () => {
    const sb = new SackScoreboard();
    sb.update([2000, 4000, 5000, 8000], 1000, 10000);
    assert.equal(sb.sackedIn(1000, 10000), 5000);
    assert.equal(sb.sackedIn(3000, 6000), 1000 + 1000);
    assert.equal(sb.sackedIn(4000, 5000), 0);
    assert.equal(sb.nextUnsacked(1000), 1000);
    assert.equal(sb.nextUnsacked(2500), 4000);
    assert.equal(sb.nextUnsacked(5000), 8000);
    assert.equal(sb.nextSacked(1000, 10000), 2000);
    assert.equal(sb.nextSacked(4000, 10000), 5000);
    assert.equal(sb.nextSacked(8000, 10000), 10000);
    assert.equal(sb.highEnd(1000), 8000);
    assert.ok(sb.isSacked(2000) && !sb.isSacked(4000) && sb.isSacked(7999) && !sb.isSacked(8000));
    // SND.UNA moves into a range: the part below goes.
    sb.advance(3000);
    assert.deepEqual(sb.list(), [
      [3000, 4000],
      [5000, 8000],
    ]);
    sb.advance(9000);
    assert.ok(sb.empty);
  });

  it('works across the 2^32 wrap', () => {
    const una = 0xffff_f000;
    const sb = new SackScoreboard();
    // 0xfffff800..0x00000400 straddles the wrap; SND.MAX is 0x1000.
    assert.equal(sb.update([0xffff_f800, 0x400], una, 0x1000).newlySacked, 0xc00);
    assert.equal(sb.update([0x800, 0xc00], una, 0x1000).newlySacked, 0x400);
    assert.deepEqual(sb.list(), [
      [0xffff_f800, 0x400],
      [0x800, 0xc00],
    ]);
    assert.equal(sb.sackedIn(una, 0x1000), 0x1000);
    assert.equal(sb.nextUnsacked(0xffff_f900), 0x400);
    assert.equal(sb.update([0xffff_0000, 0xffff_f100], una, 0x1000).rejected, 1, 'below SND.UNA');
    sb.advance(0x500);
    assert.deepEqual(sb.list(), [[0x800, 0xc00]]);
  });

  it(`holds at most ${MAX_SACK_RANGES} ranges however many disjoint blocks a peer sends`, () => {
    const sb = new SackScoreboard();
    let rejected = 0;
    for (let i = 0; i < 5000; i++) rejected += sb.update([i * 4, i * 4 + 2], 0, 1 << 20).rejected;
    assert.equal(sb.ranges, MAX_SACK_RANGES);
    assert.equal(rejected, 5000 - MAX_SACK_RANGES);
    // Blocks that merge into held ranges are still taken.
    assert.equal(sb.update([0, 4], 0, 1 << 20).newlySacked, 2);
    assert.equal(sb.ranges, MAX_SACK_RANGES - 1);
  });
});
