// Package twin is drdrill's AWS twin: an AWS control plane on loopback that
// answers the unmodified AWS SDK over the real wire protocols, with the
// embedded lab as its data plane. This is its first slice: the RDS
// global-cluster operations (awsQuery) and STS GetCallerIdentity, with
// Aurora's FailoverState over time and the lab's real promotion
// underneath. Responses are written by the SDK's own output types
// serializing themselves (smithy.ShapeSerializer), so every element name
// comes from the SDK's schemas.
package twin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Config sets the twin's account and its clock.
type Config struct {
	// Account is the twin's AWS account id (default 000000000000).
	Account string
	// TimeScale multiplies every AWS duration (default 1: AWS's own;
	// 0.01 makes a one-minute promotion take 600 ms).
	TimeScale float64
}

func (c Config) scaled(d time.Duration) time.Duration {
	if c.TimeScale <= 0 {
		return d
	}
	return time.Duration(float64(d) * c.TimeScale)
}

// Server is a running twin endpoint.
type Server struct {
	cfg  Config
	rds  *rdsService
	http *http.Server
	ln   net.Listener
	seq  atomic.Int64
}

// Start serves the twin on addr (e.g. 127.0.0.1:0) for one global cluster
// over data.
func Start(addr string, cfg Config, gc GlobalCluster, data DataPlane) (*Server, error) {
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if gc.writer == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w, err := data.Primary(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("AWS twin: which region holds the writer: %w", err)
		}
		gc.writer = w
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("AWS twin: listen on %s: %w (is the port in use? pick another or 127.0.0.1:0)", addr, err)
	}
	s := &Server{cfg: cfg, ln: ln, rds: &rdsService{cfg: cfg, data: data, gc: &gc}}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// Endpoint is the URL to give the SDK (AWS_ENDPOINT_URL).
func (s *Server) Endpoint() string { return "http://" + s.ln.Addr().String() }

// Close stops serving and waits for promotions in progress to finish, so
// that no lab operation outlives the twin.
func (s *Server) Close() error {
	err := s.http.Close()
	s.rds.async.Wait()
	return err
}

// ServeHTTP routes an awsQuery request by its API version, as AWS routes
// by endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := fmt.Sprintf("drdrill-twin-%06d", s.seq.Add(1))
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		queryErrorResponse(w, &QueryError{Status: http.StatusBadRequest, Code: "MalformedQueryString", Sender: true,
			Message: "the twin speaks the awsQuery protocol: a form-encoded POST"}, reqID)
		return
	}
	switch r.PostForm.Get("Version") {
	case "2014-10-31":
		s.rds.handle(w, r.PostForm, reqID)
	case "2011-06-15":
		if r.PostForm.Get("Action") == "GetCallerIdentity" {
			queryResponse(w, "https://sts.amazonaws.com/doc/2011-06-15/", "GetCallerIdentity", &sts.GetCallerIdentityOutput{
				Account: awssdk.String(s.cfg.Account), Arn: awssdk.String("arn:aws:iam::" + s.cfg.Account + ":user/drdrill-twin"),
				UserId: awssdk.String("AIDADRDRILLTWIN")}, reqID)
			return
		}
		fallthrough
	default:
		queryErrorResponse(w, &QueryError{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
			Message: fmt.Sprintf("the drdrill AWS twin does not model %s (API version %q)", r.PostForm.Get("Action"), r.PostForm.Get("Version"))}, reqID)
	}
}
