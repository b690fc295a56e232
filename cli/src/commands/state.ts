import { Args } from '@oclif/core';
import { OciCommand, ociGlobalFlags } from '../oci-base';

export default class State extends OciCommand {
  static override summary = "Print a container's OCI state (JSON).";
  static override description =
    'ociVersion, id, status (creating, created, running, paused, stopped), pid (the sandbox process; 0 once stopped), bundle, rootfs, created, owner and annotations.';
  static override args = { id: Args.string({ required: true, description: 'The container id.' }) };
  static override flags = { ...ociGlobalFlags };

  async run(): Promise<void> {
    const { args } = await this.parse(State);
    const { readRecord, stateOf } = await import('../../../core/runtime/oci/lifecycle');
    const store = await this.store();
    process.stdout.write(`${JSON.stringify(stateOf(store, readRecord(store, args.id)), null, 2)}\n`);
  }
}
