package twin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// Policy is an IAM identity policy: the statements of a role's policies.
// The twin evaluates it as IAM does for one account with no boundaries,
// SCPs or session policies (IAM User Guide, "Policy evaluation logic"):
// an explicit Deny wins, else an Allow whose Action, Resource and
// Condition all match, else the implicit deny.
type Policy struct{ Statements []Statement }

// Statement is one policy statement. Action and Resource patterns use
// IAM's wildcards (* and ?); conditions StringEquals and StringLike.
type Statement struct {
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string][]string
}

// ParsePolicies reads policy documents (JSON, as a plan renders them).
func ParsePolicies(docs []string) (*Policy, error) {
	p := &Policy{}
	for _, d := range docs {
		var doc struct {
			Statement []struct {
				Effect    string
				Action    stringList
				Resource  stringList
				Condition map[string]map[string]stringList
			}
		}
		if err := json.Unmarshal([]byte(d), &doc); err != nil {
			return nil, fmt.Errorf("policy document: %w", err)
		}
		for _, s := range doc.Statement {
			st := Statement{Effect: s.Effect, Action: s.Action, Resource: s.Resource, Condition: map[string]map[string][]string{}}
			for op, kv := range s.Condition {
				st.Condition[op] = map[string][]string{}
				for k, v := range kv {
					st.Condition[op][k] = v
				}
			}
			p.Statements = append(p.Statements, st)
		}
	}
	return p, nil
}

// stringList is a policy element that may be one string or a list.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// Allows reports whether the policy allows action on resource with the
// request's condition keys.
func (p *Policy) Allows(action, resource string, keys map[string]string) bool {
	allowed := false
	for _, s := range p.Statements {
		if !matchAny(s.Action, action, true) || !matchAny(s.Resource, resource, false) || !conditionsHold(s.Condition, keys) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = allowed || s.Effect == "Allow"
	}
	return allowed
}

func matchAny(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if fold { // actions are case-insensitive, resources are not
			p, v = strings.ToLower(p), strings.ToLower(v)
		}
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "\x00"), strings.ReplaceAll(v, "/", "\x00")); ok || p == "*" {
			return true
		}
	}
	return false
}

// conditionsHold: every operator's every key must match one of its values;
// an operator the twin does not model never holds (fail closed).
func conditionsHold(cond map[string]map[string][]string, keys map[string]string) bool {
	for op, kv := range cond {
		for k, want := range kv {
			got, present := keys[k]
			if !present {
				return false
			}
			ok := false
			for _, w := range want {
				switch op {
				case "StringEquals":
					ok = ok || got == w
				case "StringLike":
					ok = ok || matchAny([]string{w}, got, false)
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// authorization is what one call needs: each action on its resource, with
// the condition keys the service sets (a KMS call made on the caller's
// behalf carries kms:ViaService).
type authorization struct {
	action, resource string
	keys             map[string]string
	kms              bool // a KMS permission the service needs on the caller's behalf
}

// required lists what a call of one of the stack's functions needs, by
// the IAM actions, resources and condition keys of the Service
// Authorization Reference, with the KMS permissions an encrypted topic
// (SNS Developer Guide, "Data encryption": publishers need
// kms:GenerateDataKey* and kms:Decrypt) or secret (Secrets Manager User
// Guide, "Secret encryption and decryption": kms:Decrypt) adds.
func (s *Server) required(c *call) []authorization {
	acct := s.cfg.Account
	clusterARN := func(id string) string {
		if strings.HasPrefix(id, "arn:") {
			return id
		}
		return fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", c.Region, acct, id)
	}
	globalARN := func(id string) string { return fmt.Sprintf("arn:aws:rds::%s:global-cluster:%s", acct, id) }
	one := func(action, resource string, keys map[string]string) []authorization {
		return []authorization{{action: action, resource: resource, keys: keys}}
	}
	switch c.Service {
	case "rds":
		switch c.Action {
		case "DescribeDBClusters":
			return one("rds:DescribeDBClusters", clusterARN(c.Form.Get("DBClusterIdentifier")), nil)
		case "DescribeGlobalClusters":
			return one("rds:DescribeGlobalClusters", globalARN(c.Form.Get("GlobalClusterIdentifier")), nil)
		case "FailoverGlobalCluster", "SwitchoverGlobalCluster":
			return []authorization{{action: "rds:" + c.Action, resource: globalARN(c.Form.Get("GlobalClusterIdentifier"))},
				{action: "rds:" + c.Action, resource: clusterARN(c.Form.Get("TargetDbClusterIdentifier"))}}
		}
	case "monitoring":
		if c.Action == "PutMetricData" {
			return one("cloudwatch:PutMetricData", "*", map[string]string{"cloudwatch:namespace": str(c.Params, "Namespace")})
		}
		return one("cloudwatch:"+c.Action, "*", nil)
	case "secretsmanager":
		if c.Action == "GetSecretValue" {
			auth := one("secretsmanager:GetSecretValue", s.secrets.arn(c.Region), nil)
			if key := s.stack.SecretKeys[c.Region]; key != "" {
				auth = append(auth, authorization{action: "kms:Decrypt", resource: key, kms: true,
					keys: map[string]string{"kms:ViaService": "secretsmanager." + c.Region + ".amazonaws.com"}})
			}
			return auth
		}
	case "sns":
		if c.Action == "Publish" {
			topic := c.Form.Get("TopicArn")
			auth := one("sns:Publish", topic, nil)
			if key := s.stack.TopicKeys[topic]; key != "" {
				via := map[string]string{"kms:ViaService": "sns." + c.Region + ".amazonaws.com"}
				auth = append(auth, authorization{action: "kms:GenerateDataKey", resource: key, keys: via, kms: true},
					authorization{action: "kms:Decrypt", resource: key, keys: via, kms: true})
			}
			return auth
		}
	}
	return one(iamPrefix(c.Service)+":"+c.Action, "*", nil)
}

func iamPrefix(service string) string {
	if service == "monitoring" {
		return "cloudwatch"
	}
	return service
}

// authorize checks a function's call against its role's policy and
// returns the error AWS would answer a denial with.
func (s *Server) authorize(fn string, p *Policy, c *call) *APIError {
	for _, a := range s.required(c) {
		if p.Allows(a.action, a.resource, a.keys) {
			continue
		}
		msg := fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/%s/%s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
			s.cfg.Account, fn, fn, a.action, a.resource, a.action)
		switch {
		case a.kms && c.Service == "sns":
			return &APIError{Status: http.StatusBadRequest, Code: "KMSAccessDenied", Sender: true, Message: msg}
		case c.Service == "sns":
			return &APIError{Status: http.StatusForbidden, Code: "AuthorizationError", Sender: true, Message: msg}
		case c.Service == "secretsmanager" || c.Service == "lambda":
			return &APIError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true, Message: msg}
		default:
			return &APIError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true, Message: msg}
		}
	}
	return nil
}
