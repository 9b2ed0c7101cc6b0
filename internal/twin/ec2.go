package twin

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
)

// ec2API is EC2 as the twin serves it (ec2Query): the network ACL calls
// of a region isolation.
var ec2API = service{
	name:       "ec2",
	protocols:  []protocol{ec2Query},
	xmlns:      ec2Namespace,
	throttling: APIError{Status: http.StatusServiceUnavailable, Code: "RequestLimitExceeded", Message: "Request limit exceeded."},
	iam:        iamRules{prefix: "ec2", required: ec2Required, denied: APIError{Status: http.StatusForbidden, Code: "UnauthorizedOperation", Sender: true}},
	start: func(s *Server) (handler, error) {
		e := newEC2(s.cfg.Account, s.stack.Networks, s.data, s.stack.Tags)
		e.propagation = func() time.Duration { return s.draw(s.cfg.Worst.EC2Propagation) }
		return e, nil
	},
}

// ec2Namespace is the XML namespace of EC2 API 2016-11-15 answers.
const ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// Network is one region's database network as infra/aws builds it: the
// VPC, the database subnets and the network ACL they start on.
type Network struct {
	Region, VPC string
	Subnets     []string
	DefaultACL  string
	// FunctionSubnets are the VPC's other subnets, where infra/aws puts
	// the functions and the VPC endpoints.
	FunctionSubnets []string
}

type networkACL struct {
	id, vpc, region string
	isDefault       bool
	tags            map[string]string
	// visibleAt: before it, the ACL "might not have propagated" and calls
	// naming it answer InvalidNetworkAclID.NotFound.
	visibleAt time.Time
}

// association is a subnet's network ACL association: the ACL and the
// association's id (a new one at every ReplaceNetworkAclAssociation).
type association struct{ acl, id string }

// change is an association change on its way to DescribeNetworkAcls.
type change struct {
	subnet string
	to     association
	at     time.Time
}

// ec2Service models the network ACL calls of a region isolation (FIS
// aws:network:disrupt-connectivity does the same): a new network ACL
// denies all traffic until entries are added (VPC User Guide, "Control
// subnet traffic with network access control lists": "Each custom network
// ACL starts out closed"), and a subnet is on exactly one ACL. A subnet is
// cut as soon as its association is replaced: the region's clients and
// Lambdas lose its cluster when any of its database subnets is on a
// deny-all ACL (the cluster's instances and endpoint interfaces are spread
// over them), while Aurora's storage replication, which does not cross
// those subnets, carries on.
//
// The API is eventually consistent ("Eventual consistency in the Amazon
// EC2 API"): an ACL just created is InvalidNetworkAclID.NotFound, and an
// association just replaced is neither shown by DescribeNetworkAcls nor
// usable by its new id, for a seeded draw up to Worst.EC2Propagation; the
// subnets' real associations (what traffic meets, what a deletion
// depends on) change at once.
type ec2Service struct {
	account     string
	data        DataPlane
	tags        map[string]string // the stack's, on its own ACLs
	propagation func() time.Duration
	mu          sync.Mutex
	nets        []Network
	acls        map[string]*networkACL
	assoc       map[string]association // subnet → its association now
	seen        map[string]association // subnet → what DescribeNetworkAcls shows
	pending     []change               // association changes not yet seen, oldest first
	seq         int
}

func newEC2(account string, nets []Network, data DataPlane, tags map[string]string) *ec2Service {
	s := &ec2Service{account: account, data: data, tags: tags, nets: nets, acls: map[string]*networkACL{},
		assoc: map[string]association{}, seen: map[string]association{}, propagation: func() time.Duration { return 0 }}
	for _, n := range nets {
		s.acls[n.DefaultACL] = &networkACL{id: n.DefaultACL, vpc: n.VPC, region: n.Region, isDefault: true, tags: maps.Clone(tags)}
		for _, sn := range n.Subnets {
			a := association{acl: n.DefaultACL, id: s.newID("aclassoc")}
			s.assoc[sn], s.seen[sn] = a, a
		}
	}
	return s
}

func (s *ec2Service) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-0d%015x", prefix, s.seq)
}

// propagate lets DescribeNetworkAcls see the changes whose time has come.
// Called with s.mu held.
func (s *ec2Service) propagate(now time.Time) {
	kept := s.pending[:0]
	for _, c := range s.pending {
		if c.at.After(now) {
			kept = append(kept, c)
			continue
		}
		s.seen[c.subnet] = c.to
	}
	s.pending = kept
}

// visible: the ACL exists and has propagated. Called with s.mu held.
func (s *ec2Service) visible(id, region string, now time.Time) (*networkACL, bool) {
	a, ok := s.acls[id]
	if !ok || a.region != region || now.Before(a.visibleAt) {
		return nil, false
	}
	return a, true
}

// The answers are written here, element by element (xmlDocument): the
// SDK's EC2 client has no schema serializers yet, so the names are those
// its deserializers (service/ec2/deserializers.go) read, and every
// operation is round-tripped through the real client in the tests.
func ec2Error(code, text string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Sender: true, Message: text}
}

func (s *ec2Service) handle(c *call) (smithy.Serializable, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.propagate(now)
	switch c.Action {
	case "DescribeNetworkAcls":
		return s.describe(c, now)
	case "CreateNetworkAcl":
		return s.create(c, now)
	case "ReplaceNetworkAclAssociation":
		return s.replace(c, now)
	case "DeleteNetworkAcl":
		return s.delete(c, now)
	}
	return nil, ec2Error("InvalidAction", fmt.Sprintf("the drdrill AWS twin does not model EC2 %s", c.Action))
}

// listParam reads an ec2Query list: Prefix.1, Prefix.2, …
func listParam(c *call, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := c.Form[fmt.Sprintf("%s.%d", prefix, i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

func esc(v string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(v))
	return b.String()
}

// aclXML writes an ACL with the associations DescribeNetworkAcls shows.
func (s *ec2Service) aclXML(b *strings.Builder, a *networkACL) {
	fmt.Fprintf(b, "<item><networkAclId>%s</networkAclId><vpcId>%s</vpcId><default>%t</default><ownerId>%s</ownerId><associationSet>",
		a.id, a.vpc, a.isDefault, s.account)
	subnets := make([]string, 0)
	for sn, as := range s.seen {
		if as.acl == a.id {
			subnets = append(subnets, sn)
		}
	}
	sort.Strings(subnets)
	for _, sn := range subnets {
		fmt.Fprintf(b, "<item><networkAclAssociationId>%s</networkAclAssociationId><networkAclId>%s</networkAclId><subnetId>%s</subnetId></item>",
			s.seen[sn].id, a.id, sn)
	}
	b.WriteString("</associationSet><entrySet>")
	// Every ACL ends with the rule that denies what no other rule allows;
	// a default ACL also allows all (rule 100), a new one allows nothing.
	if a.isDefault {
		for _, egress := range []bool{false, true} {
			fmt.Fprintf(b, "<item><ruleNumber>100</ruleNumber><protocol>-1</protocol><ruleAction>allow</ruleAction><egress>%t</egress><cidrBlock>0.0.0.0/0</cidrBlock></item>", egress)
		}
	}
	for _, egress := range []bool{false, true} {
		fmt.Fprintf(b, "<item><ruleNumber>32767</ruleNumber><protocol>-1</protocol><ruleAction>deny</ruleAction><egress>%t</egress><cidrBlock>0.0.0.0/0</cidrBlock></item>", egress)
	}
	b.WriteString("</entrySet><tagSet>")
	keys := make([]string, 0, len(a.tags))
	for k := range a.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "<item><key>%s</key><value>%s</value></item>", esc(k), esc(a.tags[k]))
	}
	b.WriteString("</tagSet></item>")
}

// describe answers DescribeNetworkAcls from what has propagated: an ACL by
// id that has not is InvalidNetworkAclID.NotFound, and a subnet filter
// matches the ACL its association was last seen on.
func (s *ec2Service) describe(c *call, now time.Time) (smithy.Serializable, *APIError) {
	var subnets []string
	for i := 1; ; i++ {
		name, ok := c.Form[fmt.Sprintf("Filter.%d.Name", i)]
		if !ok {
			break
		}
		if len(name) == 1 && name[0] == "association.subnet-id" {
			subnets = append(subnets, listParam(c, fmt.Sprintf("Filter.%d.Value", i))...)
		}
	}
	ids := listParam(c, "NetworkAclId")
	for _, id := range ids {
		if _, ok := s.visible(id, c.Region, now); !ok {
			return nil, ec2Error("InvalidNetworkAclID.NotFound", fmt.Sprintf("The networkAcl ID '%s' does not exist", id))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<DescribeNetworkAclsResponse xmlns="%s"><requestId>%s</requestId><networkAclSet>`, ec2Namespace, c.ReqID)
	keys := make([]string, 0, len(s.acls))
	for k := range s.acls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, id := range keys {
		a, ok := s.visible(id, c.Region, now)
		if !ok || (len(ids) > 0 && !slices.Contains(ids, id)) {
			continue
		}
		if len(subnets) > 0 {
			match := false
			for _, sn := range subnets {
				match = match || s.seen[sn].acl == id
			}
			if !match {
				continue
			}
		}
		s.aclXML(&b, a)
	}
	b.WriteString("</networkAclSet></DescribeNetworkAclsResponse>")
	return xmlDocument(b.String()), nil
}

func (s *ec2Service) create(c *call, now time.Time) (smithy.Serializable, *APIError) {
	vpc := c.Form.Get("VpcId")
	known := false
	for _, n := range s.nets {
		known = known || (n.VPC == vpc && n.Region == c.Region)
	}
	if !known {
		return nil, ec2Error("InvalidVpcID.NotFound", fmt.Sprintf("The vpc ID '%s' does not exist", vpc))
	}
	a := &networkACL{id: s.newID("acl"), vpc: vpc, region: c.Region, tags: requestTags(c), visibleAt: now.Add(s.propagation())}
	s.acls[a.id] = a
	var b strings.Builder
	fmt.Fprintf(&b, `<CreateNetworkAclResponse xmlns="%s"><requestId>%s</requestId><networkAcl>`, ec2Namespace, c.ReqID)
	one := strings.Builder{}
	s.aclXML(&one, a)
	b.WriteString(strings.TrimSuffix(strings.TrimPrefix(one.String(), "<item>"), "</item>"))
	b.WriteString("</networkAcl></CreateNetworkAclResponse>")
	return xmlDocument(b.String()), nil
}

// requestTags are a create call's TagSpecification.1 tags.
func requestTags(c *call) map[string]string {
	tags := map[string]string{}
	for i := 1; ; i++ {
		k, ok := c.Form[fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)]
		if !ok {
			return tags
		}
		tags[k[0]] = c.Form.Get(fmt.Sprintf("TagSpecification.1.Tag.%d.Value", i))
	}
}

// replace moves a subnet to another ACL: at once for its traffic (the
// subnet is cut, or restored, now), later for DescribeNetworkAcls and for
// the new association id. The association id must be the subnet's current
// one as it has propagated: an old one, or a new one not yet propagated,
// is InvalidAssociationID.NotFound.
func (s *ec2Service) replace(c *call, now time.Time) (smithy.Serializable, *APIError) {
	assocID, aclID := c.Form.Get("AssociationId"), c.Form.Get("NetworkAclId")
	subnet := ""
	for sn, as := range s.assoc {
		if as.id == assocID && !s.propagating(sn, assocID) {
			subnet = sn
		}
	}
	if subnet == "" {
		return nil, ec2Error("InvalidAssociationID.NotFound", fmt.Sprintf("The association ID '%s' does not exist", assocID))
	}
	if _, ok := s.visible(aclID, c.Region, now); !ok {
		return nil, ec2Error("InvalidNetworkAclID.NotFound", fmt.Sprintf("The networkAcl ID '%s' does not exist", aclID))
	}
	next := association{acl: aclID, id: s.newID("aclassoc")}
	s.assoc[subnet] = next
	at := now.Add(s.propagation())
	for _, p := range s.pending {
		if p.subnet == subnet && p.at.After(at) {
			at = p.at // a subnet's changes are seen in the order they were made
		}
	}
	s.pending = append(s.pending, change{subnet: subnet, to: next, at: at})
	s.propagate(now)
	s.applyIsolation(c.Region)
	return xmlDocument(fmt.Sprintf(`<ReplaceNetworkAclAssociationResponse xmlns="%s"><requestId>%s</requestId><newAssociationId>%s</newAssociationId></ReplaceNetworkAclAssociationResponse>`,
		ec2Namespace, c.ReqID, next.id)), nil
}

// propagating: the subnet's association id has not reached the API yet.
func (s *ec2Service) propagating(subnet, id string) bool {
	for _, p := range s.pending {
		if p.subnet == subnet && p.to.id == id {
			return true
		}
	}
	return false
}

func (s *ec2Service) delete(c *call, now time.Time) (smithy.Serializable, *APIError) {
	id := c.Form.Get("NetworkAclId")
	a, ok := s.visible(id, c.Region, now)
	if !ok {
		return nil, ec2Error("InvalidNetworkAclID.NotFound", fmt.Sprintf("The networkAcl ID '%s' does not exist", id))
	}
	if a.isDefault {
		return nil, ec2Error("InvalidParameterValue", "cannot delete default network ACL "+id)
	}
	for sn, as := range s.assoc {
		if as.acl == id {
			return nil, ec2Error("DependencyViolation", fmt.Sprintf("The networkAcl '%s' has dependencies and cannot be deleted (subnet %s).", id, sn))
		}
	}
	delete(s.acls, id)
	return xmlDocument(fmt.Sprintf(`<DeleteNetworkAclResponse xmlns="%s"><requestId>%s</requestId><return>true</return></DeleteNetworkAclResponse>`, ec2Namespace, c.ReqID)), nil
}

// applyIsolation cuts a region's client path as soon as one of its
// database subnets is on an ACL that allows nothing, and restores it when
// every one is back on an allowing ACL. Called with s.mu held.
func (s *ec2Service) applyIsolation(region string) {
	for _, n := range s.nets {
		if n.Region != region {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.data.Isolate(ctx, region, len(s.cutSubnets(n)) > 0)
		cancel()
	}
}

// cutSubnets are the network's database subnets on an ACL that allows
// nothing. Called with s.mu held.
func (s *ec2Service) cutSubnets(n Network) []string {
	var out []string
	for _, sn := range n.Subnets {
		if !s.acls[s.assoc[sn].acl].isDefault {
			out = append(out, sn)
		}
	}
	return out
}

// Isolated reports which regions have a database subnet on a deny-all ACL.
func (s *ec2Service) Isolated() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.nets {
		if len(s.cutSubnets(n)) > 0 {
			out = append(out, n.Region)
		}
	}
	return out
}

// DenyACLs lists the ACLs that are not a region's original one.
func (s *ec2Service) DenyACLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, a := range s.acls {
		if !a.isDefault {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func ec2ErrorResponse(w http.ResponseWriter, e *APIError, reqID string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		esc(e.Code), esc(e.Message), reqID)
}

// ec2Required: what each network ACL call needs (Service Authorization
// Reference, Amazon EC2): describes are on "*"; CreateNetworkAcl on the
// VPC and on the new ACL with the tags it asks for (and ec2:CreateTags for
// tagging at creation); ReplaceNetworkAclAssociation and DeleteNetworkAcl
// on the ACL, with its tags.
func ec2Required(s *Server, c *call) []authorization {
	e := serviceOf[*ec2Service](s)
	arn := func(kind, id string) string {
		return fmt.Sprintf("arn:aws:ec2:%s:%s:%s/%s", c.Region, s.cfg.Account, kind, id)
	}
	switch c.Action {
	case "CreateNetworkAcl":
		vpc := c.Form.Get("VpcId")
		need := []authorization{{action: "ec2:CreateNetworkAcl", resource: arn("vpc", vpc), keys: resourceTags(s.stack.Tags)},
			{action: "ec2:CreateNetworkAcl", resource: arn("network-acl", "*"), keys: requestTagKeys(requestTags(c))}}
		if len(requestTags(c)) > 0 {
			need = append(need, authorization{action: "ec2:CreateTags", resource: arn("network-acl", "*"),
				keys: merge(requestTagKeys(requestTags(c)), map[string]string{"ec2:CreateAction": "CreateNetworkAcl"})})
		}
		return need
	case "ReplaceNetworkAclAssociation", "DeleteNetworkAcl":
		id := c.Form.Get("NetworkAclId")
		return []authorization{{action: "ec2:" + c.Action, resource: arn("network-acl", id), keys: resourceTags(e.aclTags(id))}}
	}
	return nil
}

// aclTags are an ACL's tags (none for one that does not exist).
func (s *ec2Service) aclTags(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.acls[id]; ok {
		return maps.Clone(a.tags)
	}
	return nil
}
