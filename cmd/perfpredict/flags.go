package main

import (
	"errors"
	"flag"
)

// newFlagSet makes a subcommand's flag set that reports errors instead of
// exiting, writing its usage to stderr.
func newFlagSet(name string, env *cmdEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("perfpredict "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	return fs
}

// parseFlags parses args, turning a parse failure into a usage error (exit 2)
// and -h into a clean exit.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageErr(err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// errHelp ends a command that printed its help; runMain maps it to status 0.
var errHelp = &exitError{code: 0, err: errors.New("help requested")}
