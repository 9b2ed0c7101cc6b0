// Command failovertrigger is the failover-trigger Lambda. It runs in the
// secondary region, on schedule and from the alarm path, feeds the health
// observations to internal/decision (the same code as the lab's controller)
// and acts: nothing, wait, SwitchoverGlobalCluster, or FailoverGlobalCluster
// with AllowDataLoss. Every decision goes to SNS and the log.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/drdrill/drdrill/internal/trigger"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	t, err := trigger.NewFromEnv(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, event json.RawMessage) (trigger.Result, error) {
		r, err := t.Run(ctx, event)
		if err != nil {
			log.Error("failover trigger failed", "error", err.Error())
		}
		return r, err
	})
}
