package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// recordCommand is a placeholder until the record subcommand lands.
func recordCommand() *cli.Command {
	return &cli.Command{
		Name:  "record",
		Usage: "(not built yet)",
		Action: func(*cli.Context) error {
			return fatalError(errors.New("record: not built yet"))
		},
	}
}
