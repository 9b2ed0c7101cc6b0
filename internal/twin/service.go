package twin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/traits"
)

// services is the twin's registry: every AWS service it answers, one line
// each. A service is one file — its handler and its service definition —
// plus its line here, as LocalStack's providers and moto's backends are.
// A request is dispatched by its SigV4 signing name to the service, read
// in the protocol it came in, throttled, authorised and handled by it, and
// answered in the protocol it came in.
var services = []*service{
	&stsAPI,
	&rdsAPI,
	&cloudWatchAPI,
	&secretsManagerAPI,
	&lambdaAPI,
	&snsAPI,
	&sqsAPI,
	&ec2API,
	&route53API,
	&s3API,
	&ecsAPI,
	&schedulerAPI,
}

// service is one AWS service as the twin serves it: everything the
// dispatcher needs to route, read, throttle, authorise and answer a call.
type service struct {
	// name is the service's SigV4 signing name (rds, monitoring, sqs …):
	// the credential scope of every request names it, and routes it here.
	name string
	// protocols are the wire protocols the service accepts (its Smithy
	// model's protocol traits). A request is answered, errors included,
	// in the one it came in, as AWS does.
	protocols []protocol
	// schema is the SDK's service schema, where the SDK has one: the
	// awsQuery XML namespace and @awsQueryCompatible come from it.
	schema *smithy.ServiceSchema
	// xmlns is the XML namespace of a service the SDK has no schema for.
	xmlns string
	// errors is the SDK's type registry of the service: its modelled
	// errors and their awsQuery codes (@awsQueryError).
	errors *smithy.TypeRegistry
	// queryInputs are the input schemas of the operations of a service
	// that accepts awsQuery besides JSON or CBOR: a form is read into the
	// parameters a JSON body gives, so its handler reads one shape.
	queryInputs map[string]*smithy.Schema
	// routes are the operations of a REST protocol (restJson1, restXml)
	// by method, path and query (the model's @http traits).
	routes []route
	// unwrappedErrors: the service's restXml errors are a bare <Error>,
	// not wrapped in <ErrorResponse> (S3: @restXml(noErrorWrapping)).
	unwrappedErrors bool
	// maxBody is the largest request body the service takes (0: 6 MiB,
	// the largest of the API payloads the twin models besides S3's).
	maxBody int64
	// throttling is the error the service answers a request rate it
	// refuses with (Server.Throttle): each documents its own code.
	throttling APIError
	// iam is how IAM authorises a call to the service.
	iam iamRules
	// start makes the service's handler for a twin. A handler may reach
	// another service at call time through serviceOf.
	start func(s *Server) (handler, error)
}

// handler answers the calls of one service: an SDK output type, which the
// protocol the request came in encodes, or the error AWS answers.
type handler interface {
	handle(c *call) (smithy.Serializable, *APIError)
}

// closer is a handler with something to stop when the twin closes.
type closer interface{ close() }

// route is one REST operation: "GET /2013-04-01/healthcheck/{HealthCheckId}/status".
// Path labels ({Name}, or {Key+} for the rest of the path) become
// parameters; query, if set, must be in the request's query string ("tagging"
// or "list-type=2": S3 tells operations apart by it); payload, if set,
// names the parameter the raw body goes to. The request's query string and
// headers (@httpQuery, @httpHeader members) are in call.Query and call.Header.
type route struct {
	method, path, query, action, payload string
}

// match reads the action and path labels of a REST request.
func (rt route) match(method, escapedPath string, query url.Values) (map[string]any, bool) {
	if method != rt.method {
		return nil, false
	}
	if rt.query != "" {
		k, v, hasValue := strings.Cut(rt.query, "=")
		if !query.Has(k) || (hasValue && query.Get(k) != v) {
			return nil, false
		}
	}
	want := strings.Split(strings.Trim(rt.path, "/"), "/")
	got := strings.Split(strings.Trim(escapedPath, "/"), "/")
	params := map[string]any{}
	for i, w := range want {
		label, isLabel := strings.CutPrefix(w, "{")
		label = strings.TrimSuffix(label, "}")
		if greedy, ok := strings.CutSuffix(label, "+"); isLabel && ok && i < len(got) {
			v, err := pathUnescape(strings.Join(got[i:], "/"))
			if err != nil || v == "" {
				return nil, false
			}
			params[greedy] = v
			return params, true
		}
		if i >= len(got) {
			return nil, false
		}
		if isLabel {
			v, err := pathUnescape(got[i])
			if err != nil || v == "" {
				return nil, false
			}
			params[label] = v
			continue
		}
		if w != got[i] {
			return nil, false
		}
	}
	return params, len(want) == len(got)
}

// namespace is the XML namespace of the service's answers.
func (d *service) namespace() string {
	if d.schema != nil {
		if ns, ok := smithy.SchemaTrait[*traits.XMLNamespace](d.schema.Schema); ok {
			return ns.URI
		}
	}
	return d.xmlns
}

// queryCompatible: the service answers JSON and CBOR errors with its
// awsQuery code beside the modelled error (@awsQueryCompatible).
func (d *service) queryCompatible() bool {
	if d.schema == nil {
		return false
	}
	_, ok := smithy.SchemaTrait[*traits.AWSQueryCompatible](d.schema.Schema)
	return ok
}

// modelledError is the shape ID of the modelled error whose awsQuery code
// is code ("AWS.SimpleQueueService.NonExistentQueue" →
// "com.amazonaws.sqs#QueueDoesNotExist", as SQS answers it: SQS Developer
// Guide, "Interpreting Amazon SQS JSON API responses"), or code itself
// when no shape declares it. Where several shapes share a code
// (CloudWatch's ResourceNotFound and DashboardNotFoundError), the one
// named by the code wins, then the first by name.
func (d *service) modelledError(code string) string {
	if d.errors == nil {
		return code
	}
	var ids []string
	for _, e := range d.errors.Entries {
		if t, ok := smithy.SchemaTrait[*traits.AWSQueryError](e.Schema); ok && t.ErrorCode == code {
			if e.Schema.ID().Name == code {
				return e.Schema.ID().String()
			}
			ids = append(ids, e.Schema.ID().String())
		}
	}
	if len(ids) == 0 {
		return code
	}
	slices.Sort(ids)
	return ids[0]
}

func (d *service) accepts(p protocol) bool {
	for _, q := range d.protocols {
		if q == p {
			return true
		}
	}
	return false
}

// running is a started service.
type running struct {
	def *service
	h   handler
}

// serviceOf is the twin's running handler of type H: how one service
// reaches another (SNS delivering to SQS, CloudWatch notifying SNS), and
// how the twin's own loops reach them. nil when the twin runs none.
func serviceOf[H handler](s *Server) H {
	for _, r := range s.running {
		if h, ok := r.h.(H); ok {
			return h
		}
	}
	var none H
	return none
}

// startServices starts every registered service, in the registry's order.
func (s *Server) startServices() error {
	s.byName = map[string]*running{}
	for _, d := range services {
		if _, dup := s.byName[d.name]; dup {
			return fmt.Errorf("AWS twin: service %s is registered twice", d.name)
		}
		h, err := d.start(s)
		if err != nil {
			return err
		}
		r := &running{def: d, h: h}
		s.running = append(s.running, r)
		s.byName[d.name] = r
	}
	return nil
}

// closeServices stops the services that hold something, in reverse order.
func (s *Server) closeServices() {
	for i := len(s.running) - 1; i >= 0; i-- {
		if c, ok := s.running[i].h.(closer); ok {
			c.close()
		}
	}
}

// unmodelled is the answer to an operation the twin does not model.
func unmodelled(c *call) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "InvalidAction", Sender: true,
		Message: fmt.Sprintf("the drdrill AWS twin does not model %s %s", c.Service, c.Action)}
}
