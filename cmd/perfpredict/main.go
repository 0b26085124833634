// Command perfpredict trains, evaluates and serves the performance model from
// the shell. Each subcommand lives in its own file and registers itself in
// init; see "perfpredict help".
//
// Contract, the same for every subcommand: --json prints one JSON object on standard output,
// progress and logs go to standard error; the exit status is 0 on success, 1 on
// a runtime failure, 2 on bad usage or bad input, with a one-line message on
// standard error naming the file, line or field at fault.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run executes the subcommand with the arguments after its name.
	run func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv carries the process's streams, so tests can run commands in-process.
type cmdEnv struct {
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("perfpredict: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// exitError carries the exit status a failure should produce.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as bad usage or bad input: exit status 2.
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: 2, err: err}
}

// usagef formats a bad-usage or bad-input error: exit status 2.
func usagef(format string, args ...any) error {
	return usageErr(fmt.Errorf(format, args...))
}

// exitCode maps an error returned by a command to the process's exit status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, &cmdEnv{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

// runMain dispatches to a subcommand and returns the exit status.
func runMain(ctx context.Context, env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "perfpredict: unknown command %q (see perfpredict help)\n", args[0])
		return 2
	}
	err := c.run(ctx, env, args[1:])
	if err == errHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "perfpredict %s: %v\n", c.name, err)
	}
	return exitCode(err)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: perfpredict <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'perfpredict <command> -h' for a command's flags.")
}
