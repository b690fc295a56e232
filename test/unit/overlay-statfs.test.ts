/** statfs of the sandbox root (overlay): used counts the lower's data and the upper's, free is the upper's room. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Overlay } from '../../core/fs/overlay';
import { Tmpfs } from '../../core/fs/tmpfs';
import { Directfs } from '../../plugins/fs-gofer/src/directfs';
import { testMemoryFile } from '../helpers/fake-task';

describe('overlay statfs', () => {
  it('reports the lower data as used and the upper room as free', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-ovl-'));
    try {
      const mf = testMemoryFile();
      const upper = new Tmpfs({ mf, size: 64 << 20, mode: 0o755 });
      const lower = new Directfs(dir, { mf });
      const s = new Overlay({ upper, lower }).statfs();
      const host = fs.statfsSync(dir);
      const hostUsed = (host.blocks - host.bfree) * host.bsize;
      const used = (s.blocks - s.bfree) * s.bsize;
      assert.ok(hostUsed > 0);
      assert.ok(
        Math.abs(used - hostUsed) <= s.bsize * 1024 + hostUsed * 0.01,
        `used ${used} vs host ${hostUsed}`,
      );
      assert.equal(s.bfree, upper.statfs().bfree);
      assert.equal(s.type, 0x794c7630);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
