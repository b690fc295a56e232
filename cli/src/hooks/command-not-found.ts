/**
 * command_not_found hook: oclif's message for an unknown command, with a suggestion
 * (as @oclif/plugin-not-found gives) and exit status 2 (a usage error).
 */
import { Errors, type Hook } from '@oclif/core';
import { closest } from '../../../core/config/suggest';
import { ExitCode } from '../exit-codes';

const hook: Hook<'command_not_found'> = async function (opts) {
  const sep = opts.config.topicSeparator;
  const id = opts.id.replaceAll(':', sep);
  const visible = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id.replaceAll(':', sep));
  const topics = opts.config.topics.filter((t) => !t.hidden).map((t) => t.name.replaceAll(':', sep));
  const suggestion = closest(id, [...new Set([...visible, ...topics])]);
  throw new Errors.CLIError(`command "${id}" not found`, {
    exit: ExitCode.USAGE,
    suggestions: [
      ...(suggestion ? [`Did you mean "${suggestion}"? Run \`${opts.config.bin} help ${suggestion}\`.`] : []),
      `Run \`${opts.config.bin} help\` for a list of commands.`,
    ],
  });
};

export default hook;
