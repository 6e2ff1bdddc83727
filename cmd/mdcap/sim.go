package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// simCommand is a placeholder until the sim subcommand lands.
func simCommand() *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "(not built yet)",
		Action: func(*cli.Context) error {
			return fatalError(errors.New("sim: not built yet"))
		},
	}
}
