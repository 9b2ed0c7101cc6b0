// Command taskprobe is the entrypoint of the ECS tests' image: it reports
// what a task's container sees — its arguments, working directory and
// environment — by writing it to S3 with the SDK's default credentials
// (the task role's, from the container credentials endpoint), then exits
// with the code it is told to, or waits for SIGTERM.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	// taskprobe BUCKET KEY (exit N | wait)
	if len(os.Args) < 4 || (os.Args[3] == "exit" && len(os.Args) < 5) {
		fmt.Fprintln(os.Stderr, "usage: taskprobe BUCKET KEY exit N | wait")
		os.Exit(2)
	}
	ctx := context.Background()
	wd, _ := os.Getwd()
	report := map[string]any{"args": os.Args[1:], "wd": wd, "env": os.Environ()}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err == nil {
		var creds awssdk.Credentials
		if creds, err = cfg.Credentials.Retrieve(ctx); err == nil {
			report["access_key"], report["source"] = creds.AccessKeyID, creds.Source
		}
	}
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := s3.NewFromConfig(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String(os.Args[1]), Key: awssdk.String(key), Body: bytes.NewReader(b)}); err != nil {
			fmt.Fprintln(os.Stderr, "put:", err)
			os.Exit(9)
		}
	}
	put(os.Args[2], report)
	if os.Args[3] == "wait" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		put(os.Args[2]+".terminated", map[string]any{"signal": "SIGTERM"})
		return
	}
	var code int
	fmt.Sscan(os.Args[4], &code)
	os.Exit(code)
}
