// Command ferretdb runs FerretDB v1 as a MongoDB-wire server for Energy Tracker's
// tests and demo, on its PostgreSQL backend (the default) or its SQLite backend.
//
// A plain `go install` of FerretDB's own command panics at start because its
// version file is not part of the Go module; embedding the server through the
// `ferretdb` package avoids that code path.
//
// Build it with `scripts/services fetch`: that applies the fixes in patches/ to a
// copy of the FerretDB module first (a plain `go build` here goes without them).
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "postgresql", "backend: postgresql or sqlite")
	pgURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:5432/ferretdb",
		"PostgreSQL connection URL (postgresql backend)")
	dataDir := flag.String("data", "data/ferretdb", "directory for the SQLite databases (sqlite backend)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatalf("bad -log-level %q: %v", *level, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	config := ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}
	var backend string
	switch *handler {
	case "postgresql":
		config.PostgreSQLURL = *pgURL
		backend = *pgURL
	case "sqlite":
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			log.Fatal(err)
		}
		config.SQLiteURL = "file:" + abs + "/"
		backend = abs
	default:
		log.Fatalf("bad -handler %q: postgresql or sqlite", *handler)
	}

	server, err := ferretdb.New(&config)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Warn("FerretDB listening", "address", *listen, "handler", *handler, "backend", backend)
	if err := server.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
