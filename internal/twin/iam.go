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
// IAM's wildcards (* and ?); conditions StringEquals, StringLike,
// ArnEquals and ArnLike. Principal is a resource policy's (a KMS key
// policy, a queue policy): "*", or by kind (AWS, Service) the principals
// it names.
type Statement struct {
	Effect    string
	Principal map[string][]string
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
				Principal json.RawMessage
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
			if len(s.Principal) > 0 {
				var err error
				if st.Principal, err = principals(s.Principal); err != nil {
					return nil, fmt.Errorf("policy document: Principal: %w", err)
				}
			}
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

// principals reads a Principal element: "*" or {"AWS": …, "Service": …}.
func principals(raw json.RawMessage) (map[string][]string, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("%q: want \"*\" or an object", star)
		}
		return map[string][]string{"*": {"*"}}, nil
	}
	var byKind map[string]stringList
	if err := json.Unmarshal(raw, &byKind); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for k, v := range byKind {
		out[k] = v
	}
	return out, nil
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
				case "StringEquals", "ArnEquals":
					ok = ok || got == w
				case "StringLike", "ArnLike":
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

// Caller is who makes a request, as a resource policy names it: an AWS
// service (Service: "cloudwatch.amazonaws.com"), or a role of an account
// (Account, RoleARN).
type Caller struct {
	Service, Account, RoleARN string
}

// names reports whether a statement's Principal names the caller itself;
// delegates, whether it names the caller's account (its root), which for a
// KMS key policy hands the decision to the caller's IAM policies.
func (st Statement) names(c Caller) (names, delegates bool) {
	if st.Principal["*"] != nil {
		return true, false
	}
	for _, sv := range st.Principal["Service"] {
		names = names || (c.Service != "" && sv == c.Service)
	}
	for _, a := range st.Principal["AWS"] {
		switch {
		case c.Account == "":
		case a == c.RoleARN:
			names = true
		case a == c.Account || a == "arn:aws:iam::"+c.Account+":root":
			delegates = true
		}
	}
	return names, delegates
}

// ResourceAllows evaluates a resource policy (a key or queue policy) for a
// caller: an explicit Deny naming it wins; an Allow naming it allows; an
// Allow naming its account's root allows if its identity policy does
// (KMS Developer Guide, "Default key policy": that statement "enables IAM
// policies"); else the implicit deny.
func (p *Policy) ResourceAllows(c Caller, identity *Policy, action, resource string, keys map[string]string) bool {
	allowed := false
	for _, st := range p.Statements {
		if !matchAny(st.Action, action, true) || !matchAny(st.Resource, resource, false) || !conditionsHold(st.Condition, keys) {
			continue
		}
		names, delegates := st.names(c)
		if st.Effect == "Deny" && (names || delegates) {
			return false
		}
		if st.Effect != "Allow" {
			continue
		}
		allowed = allowed || names || (delegates && identity != nil && identity.Allows(action, resource, keys))
	}
	return allowed
}

// iamRules are how IAM authorises a call to one service: the prefix of
// its actions, what each call needs when that is more than prefix:Action
// on "*" (the resources and condition keys of the Service Authorization
// Reference, and the KMS permissions the service needs on the caller's
// behalf), and the error the service answers a denial with.
type iamRules struct {
	// prefix is the service's IAM prefix (cloudwatch for monitoring).
	prefix string
	// required is what a call needs; nil (or a nil answer) is
	// prefix:Action on "*".
	required func(s *Server, c *call) []authorization
	// denied is the service's denial (AccessDenied, HTTP 403, when zero);
	// kmsDenied its denial of a KMS permission it needed on the caller's
	// behalf, when it answers that differently (SNS: KMSAccessDenied).
	denied, kmsDenied APIError
}

// authorization is what one call needs: each action on its resource, with
// the condition keys the service sets (a KMS call made on the caller's
// behalf carries kms:ViaService).
type authorization struct {
	action, resource string
	keys             map[string]string
	kms              bool // a KMS permission the service needs on the caller's behalf
}

// principal is who signs a request with role credentials: a function's
// execution role, the harness's role (infra/aws harness.tf), or an ECS
// task's task role.
type principal struct {
	role, session string
	policy        *Policy
}

// Role is an IAM role whose credentials the twin hands out: its name and
// its policies, evaluated on every call signed with them.
type Role struct {
	Name   string
	Policy *Policy
}

// harnessSession is the session name of the harness's role credentials.
const harnessSession = "drdrill"

// sessionKey is the access key id of a role session's credentials (ASIA…,
// as STS's temporary credentials are): one per role, so that the twin
// knows whose call it is.
func sessionKey(role string) string {
	return "ASIATWIN" + strings.ToUpper(fmt.Sprintf("%x", []byte(role)))
}

// HarnessCredentials are the harness role's credentials (twin.env gives
// them to the harness, as an ECS task role or an assumed role would): the
// harness's calls are checked against that role's policy. Without a
// harness role in the stack, the account administrator's.
func (s *Server) HarnessCredentials() (id, secret, token string) {
	if s.stack.Harness == nil {
		return AdministratorKey, "drdrill-twin", ""
	}
	return sessionKey(s.stack.Harness.Name), "drdrill-twin-role", "drdrill-twin"
}

// AdministratorKey is an access key of the account's administrator: calls
// signed with an AKIA… (or AKID…) key are not checked, as an IAM user with
// AdministratorAccess is not. Only tests that drive the twin's APIs as an
// operator would (the AWS CLI's, the SDK protocol tests) sign with one; the
// harness signs with its role's (HarnessCredentials), the functions with
// theirs.
const AdministratorKey = "AKIDDRDRILLTWIN"

// principal is who signs with key: nil for the administrator, an error
// for role credentials the twin never issued (InvalidClientTokenId, as
// STS answers an unknown token).
func (s *Server) principal(key string) (*principal, *APIError) {
	if !strings.HasPrefix(key, "ASIA") {
		return nil, nil
	}
	if h := s.stack.Harness; h != nil && key == sessionKey(h.Name) {
		return &principal{role: h.Name, session: harnessSession, policy: h.Policy}, nil
	}
	if lambda := serviceOf[*lambdaService](s); lambda != nil {
		if fn, role, p := lambda.byAccessKey(key); p != nil {
			return &principal{role: role, session: fn, policy: p}, nil
		}
	}
	if e := serviceOf[*ecsService](s); e != nil {
		// A running task's task role (the scheduled runner's is the
		// harness's); ECS names the session after the task.
		if role, p, ok := e.byAccessKey(key); ok {
			return &principal{role: role[strings.LastIndex(role, "/")+1:], session: strings.ToLower(key[len("ASIATASK"):]), policy: p}, nil
		}
	}
	return nil, &APIError{Status: http.StatusForbidden, Code: "InvalidClientTokenId", Sender: true,
		Message: "The security token included in the request is invalid."}
}

// authorize checks a call signed with role credentials against the role's
// policies — and, for the KMS permissions a service uses on the caller's
// behalf, against the key's policy too (keyAllows) — and returns the error
// the service answers a denial with. p and perr are who signed
// (Server.principal); the administrator's calls are not checked.
func (s *Server) authorize(svc *service, p *principal, perr *APIError, c *call) *APIError {
	if perr != nil || p == nil {
		return perr
	}
	need := []authorization{{action: svc.iam.prefix + ":" + c.Action, resource: "*"}}
	if svc.iam.required != nil {
		if r := svc.iam.required(s, c); r != nil {
			need = r
		}
	}
	roleARN := fmt.Sprintf("arn:aws:iam::%s:role/%s", s.cfg.Account, p.role)
	for _, a := range need {
		why := "no identity-based policy allows the " + a.action + " action"
		ok := p.policy.Allows(a.action, a.resource, a.keys)
		if ok && a.kms {
			ok = s.keyAllows(a.resource, Caller{Account: s.cfg.Account, RoleARN: roleARN}, p.policy, a.action, a.keys)
			why = "the key policy of " + a.resource + " does not allow it"
		}
		if ok {
			continue
		}
		e := svc.iam.denied
		if a.kms && svc.iam.kmsDenied.Code != "" {
			e = svc.iam.kmsDenied
		}
		if e.Code == "" {
			e = APIError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true}
		}
		e.Message = fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/%s/%s is not authorized to perform: %s on resource: %s because %s",
			s.cfg.Account, p.role, p.session, a.action, a.resource, why)
		return &e
	}
	return nil
}

// keyAllows evaluates a KMS key's policy (infra/aws aws_kms_key.policy) for
// a caller: a service publishing to an encrypted topic (CloudWatch), or a
// role, whose identity policy counts only where the key policy delegates
// to the account (KMS Developer Guide, "Key policies in AWS KMS"). A key
// the stack gives no policy for is decided by the identity policy alone.
func (s *Server) keyAllows(keyARN string, c Caller, identity *Policy, action string, keys map[string]string) bool {
	kp, ok := s.stack.KeyPolicies[keyARN]
	if !ok {
		return c.Service == "" && identity != nil && identity.Allows(action, keyARN, keys)
	}
	return kp.ResourceAllows(c, identity, action, keyARN, keys)
}

// resourceTags are a resource's tags as the condition keys IAM gives them
// (aws:ResourceTag/key).
func resourceTags(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		out["aws:ResourceTag/"+k] = v
	}
	return out
}

// requestTagKeys are the tags a request asks for (aws:RequestTag/key).
func requestTagKeys(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		out["aws:RequestTag/"+k] = v
	}
	return out
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
