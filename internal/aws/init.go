package aws

import (
	"context"
	"log/slog"
)

// NewMonitorFromEnv is the health monitor's cold-start path: configuration
// from the environment and SDK clients, with no network call.
func NewMonitorFromEnv(ctx context.Context, get func(string) string, log *slog.Logger) (*Monitor, error) {
	cfg, err := MonitorConfigFromEnv(get)
	if err != nil {
		return nil, err
	}
	c, err := NewClients(ctx, cfg.Region)
	if err != nil {
		return nil, err
	}
	return &Monitor{Cfg: cfg, RDS: c.RDS, CW: c.CW, Secrets: c.Secrets, Probe: SQLProbe, Log: log}, nil
}

// NewTriggerFromEnv is the failover trigger's cold-start path.
func NewTriggerFromEnv(ctx context.Context, get func(string) string, log *slog.Logger) (*Trigger, error) {
	cfg, err := TriggerConfigFromEnv(get)
	if err != nil {
		return nil, err
	}
	c, err := NewClients(ctx, cfg.Region)
	if err != nil {
		return nil, err
	}
	pc, err := NewClients(ctx, cfg.PrimaryRegion)
	if err != nil {
		return nil, err
	}
	return &Trigger{Cfg: cfg, RDS: c.RDS, CW: c.CW, PrimaryCW: pc.CW, SNS: c.SNS, Log: log}, nil
}
