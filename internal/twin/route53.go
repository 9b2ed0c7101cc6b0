package twin

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"sync"
	"time"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// route53API is Route 53 as the twin serves it (restXml): the two
// health-check reads.
var route53API = service{
	name:      "route53",
	protocols: []protocol{restXML},
	xmlns:     route53Namespace,
	routes: []route{
		{method: "GET", path: "/2013-04-01/healthcheck/{HealthCheckId}", action: "GetHealthCheck"},
		{method: "GET", path: "/2013-04-01/healthcheck/{HealthCheckId}/status", action: "GetHealthCheckStatus"},
	},
	throttling: APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "route53", required: route53Required},
	start: func(s *Server) (handler, error) {
		return &route53Service{checks: s.stack.HealthChecks, alarm: func(region, name string) (cwtypes.StateValue, bool) {
			if cw := serviceOf[*cloudWatch](s); cw != nil {
				return cw.state(region, name)
			}
			return "", false
		}}, nil
	},
}

// HealthCheck is a Route 53 health check of type CLOUDWATCH_METRIC: its
// status follows a CloudWatch alarm.
type HealthCheck struct {
	ID, Type               string
	AlarmName, AlarmRegion string
	// InsufficientData is the status while the alarm has too little data:
	// Healthy, Unhealthy or LastKnownStatus.
	InsufficientData string
	Inverted         bool
}

// healthCheckIDs are the ids the twin gives infra/aws's health checks,
// by resource name (the outputs carry them).
var healthCheckIDs = map[string]string{"primary": "7a1e0000-0000-4000-8000-000000000001", "secondary": "7a1e0000-0000-4000-8000-000000000002"}

// checkerRegions are the Route 53 health-checker regions a status report
// comes from: the default set (Route 53 Developer Guide, "Values that you
// specify when you create or update health checks": Health checker regions).
var checkerRegions = []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}

const route53Namespace = "https://route53.amazonaws.com/doc/2013-04-01/"

// route53Service answers GetHealthCheck and GetHealthCheckStatus (restXml,
// GET /2013-04-01/healthcheck/{Id}[/status]). A CLOUDWATCH_METRIC check is
// healthy while its alarm is OK and unhealthy in ALARM; with the alarm in
// INSUFFICIENT_DATA it takes InsufficientDataHealthStatus (LastKnownStatus
// keeps the last status); Inverted turns the result over (Route 53
// Developer Guide, "How Amazon Route 53 determines whether a health check
// is healthy": health checks that monitor CloudWatch alarms).
type route53Service struct {
	checks []HealthCheck
	alarm  func(region, name string) (cwtypes.StateValue, bool)
	mu     sync.Mutex
	last   map[string]bool // id → the last status computed
}

func (r *route53Service) handle(c *call) (smithy.Serializable, *APIError) {
	id := str(c.Params, "HealthCheckId")
	var hc *HealthCheck
	for i := range r.checks {
		if r.checks[i].ID == id {
			hc = &r.checks[i]
		}
	}
	if hc == nil {
		return nil, &APIError{Status: http.StatusNotFound, Code: "NoSuchHealthCheck", Sender: true, Message: fmt.Sprintf("A health check with id %s does not exist.", id)}
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	switch c.Action {
	case "GetHealthCheckStatus":
		healthy, why := r.status(*hc)
		verdict := "Success"
		if !healthy {
			verdict = "Failure"
		}
		now := time.Now().UTC().Format(time.RFC3339)
		fmt.Fprintf(&b, `<GetHealthCheckStatusResponse xmlns="%s"><HealthCheckObservations>`, route53Namespace)
		for i, region := range checkerRegions {
			fmt.Fprintf(&b, `<HealthCheckObservation><Region>%s</Region><IPAddress>192.0.2.%d</IPAddress><StatusReport><Status>%s: %s</Status><CheckedTime>%s</CheckedTime></StatusReport></HealthCheckObservation>`,
				region, i+1, verdict, escape(why), now)
		}
		b.WriteString(`</HealthCheckObservations></GetHealthCheckStatusResponse>`)
	case "GetHealthCheck":
		fmt.Fprintf(&b, `<GetHealthCheckResponse xmlns="%s"><HealthCheck><Id>%s</Id><CallerReference>terraform-%s</CallerReference><HealthCheckConfig><Type>%s</Type><Inverted>%t</Inverted>`+
			`<AlarmIdentifier><Region>%s</Region><Name>%s</Name></AlarmIdentifier><InsufficientDataHealthStatus>%s</InsufficientDataHealthStatus></HealthCheckConfig><HealthCheckVersion>1</HealthCheckVersion></HealthCheck></GetHealthCheckResponse>`,
			route53Namespace, hc.ID, hc.ID, hc.Type, hc.Inverted, hc.AlarmRegion, escape(hc.AlarmName), hc.InsufficientData)
	default:
		return nil, unmodelled(c)
	}
	return xmlDocument(b.Bytes()), nil
}

// status is the check's status now, and why. With LastKnownStatus the
// check keeps, through INSUFFICIENT_DATA, the status it last had while the
// alarm had data — its status, Inverted already applied — and a new check
// is healthy ("For new health checks that have no last known status, the
// default status for the health check is healthy": Route 53 API
// reference, HealthCheckConfig).
func (r *route53Service) status(hc HealthCheck) (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	state, ok := r.alarm(hc.AlarmRegion, hc.AlarmName)
	var healthy bool
	why := fmt.Sprintf("CloudWatch alarm %s in %s is %s", hc.AlarmName, hc.AlarmRegion, state)
	switch {
	case !ok:
		healthy, why = false, fmt.Sprintf("CloudWatch alarm %s does not exist in %s", hc.AlarmName, hc.AlarmRegion)
	case state == cwtypes.StateValueOk:
		healthy = true
	case state == cwtypes.StateValueAlarm:
		healthy = false
	default: // INSUFFICIENT_DATA
		why += ", InsufficientDataHealthStatus " + hc.InsufficientData
		switch hc.InsufficientData {
		case "Healthy":
			healthy = true
		case "LastKnownStatus":
			last, seen := r.last[hc.ID]
			return !seen || last, why + " (the last known status)"
		default:
			healthy = false
		}
	}
	if hc.Inverted {
		healthy = !healthy
		why += ", inverted"
	}
	if ok && state != cwtypes.StateValueInsufficientData {
		if r.last == nil {
			r.last = map[string]bool{}
		}
		r.last[hc.ID] = healthy
	}
	return healthy, why
}

func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// route53Required: the health-check calls are on the check's ARN (Service
// Authorization Reference, Amazon Route 53: healthcheck).
func route53Required(_ *Server, c *call) []authorization {
	if id, ok := c.Params["HealthCheckId"].(string); ok {
		return []authorization{{action: "route53:" + c.Action, resource: "arn:aws:route53:::healthcheck/" + id}}
	}
	return nil
}
