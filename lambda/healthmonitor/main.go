// Command healthmonitor is the health-monitor Lambda (one per region, every
// minute): it checks its regional Aurora cluster, publishes RegionHealthy,
// ProbeLatency and the peer's PeerHealthy, and returns what it found.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/drdrill/drdrill/internal/monitor"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	m, err := monitor.NewFromEnv(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (monitor.Result, error) {
		r, err := m.Run(ctx)
		if err != nil {
			log.Error("health check failed", "error", err.Error(), "result", r)
		}
		return r, err
	})
}
