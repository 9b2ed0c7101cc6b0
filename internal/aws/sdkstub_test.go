package aws

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// call is one intercepted request: the operation and its serialized body,
// i.e. exactly what the SDK would have sent to AWS.
type call struct {
	Service, Op string
	Body        string
	Form        url.Values // for query-protocol services (RDS, SNS)
	Params      any        // the typed input, captured at the Initialize step
}

// stubAWS intercepts every request of real SDK clients at the Finalize
// step — after serialization and signing, before the network — records it
// and answers with the typed output a responder returns.
type stubAWS struct {
	mu        sync.Mutex
	calls     []call
	responses map[string]func(c call) (any, error) // key "Service.Op"
}

func newStub() *stubAWS { return &stubAWS{responses: map[string]func(call) (any, error){}} }

func (s *stubAWS) on(key string, fn func(c call) (any, error)) { s.responses[key] = fn }

func (s *stubAWS) middleware() func(*middleware.Stack) error {
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
				c := call{Service: middleware.GetServiceID(ctx), Op: middleware.GetOperationName(ctx), Params: ctx.Value(paramsKey{})}
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

// clients builds real SDK clients whose requests go to the stub.
func (s *stubAWS) clients(t *testing.T, region string) Clients {
	t.Helper()
	c, err := NewClients(context.Background(), region,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithRetryMaxAttempts(1),
		config.WithAPIOptions([]func(*middleware.Stack) error{s.middleware()}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *stubAWS) ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Service+"."+c.Op)
	}
	return out
}

func (s *stubAWS) find(key string) (call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.Service+"."+c.Op == key {
			return c, true
		}
	}
	return call{}, false
}

type paramsKey struct{}

var _ = awssdk.String
