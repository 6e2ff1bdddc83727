package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// verifyGapsCommand is a placeholder until the verify-gaps subcommand lands.
func verifyGapsCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify-gaps",
		Usage: "(not built yet)",
		Action: func(*cli.Context) error {
			return fatalError(errors.New("verify-gaps: not built yet"))
		},
	}
}
