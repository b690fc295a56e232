import { Args, Command, loadHelpClass } from '@oclif/core';

export default class HelpCommand extends Command {
  static override summary = 'Show help for runsc or for one command.';
  static override strict = false;
  static override args = {
    command: Args.string({
      description: 'Command to show help for (e.g. "do" or "config show").',
      ignoreStdin: true,
    }),
  };
  static override examples = ['<%= config.bin %> help do', '<%= config.bin %> help config show'];

  async run(): Promise<void> {
    const Help = await loadHelpClass(this.config);
    const help = new Help(this.config, this.config.pjson.oclif.helpOptions ?? {});
    await help.showHelp(this.argv.filter((a) => a !== '--'));
  }
}
