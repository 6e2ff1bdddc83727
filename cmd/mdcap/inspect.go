package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// inspectCommand is a placeholder until the inspect subcommand lands.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "(not built yet)",
		Action: func(*cli.Context) error {
			return fatalError(errors.New("inspect: not built yet"))
		},
	}
}
