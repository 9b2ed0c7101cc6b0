// Package awstest intercepts real aws-sdk-go-v2 clients at the middleware
// layer for tests: every request is recorded (operation, serialized body,
// typed input) and answered with a typed output, so no request leaves the
// process and no hand-written fake stands in for an SDK client.
package awstest

import (
	"context"
	"fmt"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// call is one intercepted request: the operation and its serialized body,
// i.e. exactly what the SDK would have sent to AWS.
// Call is one intercepted request.
type Call struct {
	Service, Op string
	Body        string
	Form        url.Values // for query-protocol services (RDS, SNS)
	Params      any        // the typed input, captured at the Initialize step
	Region      string     // the region the request was signed for
}

// stubAWS intercepts every request of real SDK clients at the Finalize
// step — after serialization and signing, before the network — records it
// and answers with the typed output a responder returns.
// Stub intercepts every request of SDK clients built with its Options.
type Stub struct {
	mu        sync.Mutex
	calls     []Call
	responses map[string]func(c Call) (any, error) // key "Service.Op"
}

// New returns an empty stub; unexpected operations fail.
func New() *Stub { return &Stub{responses: map[string]func(Call) (any, error){}} }

// On answers operation key ("Service.Op", e.g. "RDS.FailoverGlobalCluster").
func (s *Stub) On(key string, fn func(c Call) (any, error)) { s.responses[key] = fn }

func (s *Stub) middleware() func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		// Typed input, for protocols whose body is binary (CloudWatch: CBOR).
		if err := st.Initialize.Add(middleware.InitializeMiddlewareFunc("drdrillCapture",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(context.WithValue(ctx, paramsKey{}, in.Parameters), in)
			}), middleware.After); err != nil {
			return err
		}
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("drdrillStub",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c := Call{Service: middleware.GetServiceID(ctx), Op: middleware.GetOperationName(ctx), Params: ctx.Value(paramsKey{}), Region: awsmiddleware.GetRegion(ctx)}
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					if rd := req.GetStream(); rd != nil {
						b, _ := io.ReadAll(rd)
						c.Body = string(b)
						if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
							c.Form, _ = url.ParseQuery(c.Body)
						}
					}
				}
				s.mu.Lock()
				s.calls = append(s.calls, c)
				fn := s.responses[c.Service+"."+c.Op]
				s.mu.Unlock()
				if fn == nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("unexpected call %s.%s", c.Service, c.Op)
				}
				out, err := fn(c)
				return middleware.FinalizeOutput{Result: out}, middleware.Metadata{}, err
			}), middleware.After)
	}
}

// Options configure real SDK clients to send their requests to the stub.
func (s *Stub) Options() []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithRetryMaxAttempts(1),
		config.WithAPIOptions([]func(*middleware.Stack) error{s.middleware()}),
	}
}

// Config is an SDK configuration for region whose clients' requests all
// go to s.
func (s *Stub) Config(t testing.TB, region string) awssdk.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), append([]func(*config.LoadOptions) error{config.WithRegion(region)}, s.Options()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Ops lists the operations called so far.
func (s *Stub) Ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Service+"."+c.Op)
	}
	return out
}

// Find returns the first call of key.
func (s *Stub) Find(key string) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.Service+"."+c.Op == key {
			return c, true
		}
	}
	return Call{}, false
}

type paramsKey struct{}
