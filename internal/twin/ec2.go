package twin

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

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
}

// ec2Service models the network ACL calls of a region isolation (FIS
// aws:network:disrupt-connectivity does the same): a new network ACL
// denies all traffic until entries are added (VPC User Guide, "Control
// subnet traffic with network access control lists": "Each custom network
// ACL starts out closed"), and a subnet is on exactly one ACL. When every
// database subnet of a region is on a deny-all ACL, the region's clients
// and Lambdas can no longer reach its cluster — the lab's client path is
// cut — while Aurora's storage replication, which does not cross those
// subnets, carries on.
type ec2Service struct {
	account  string
	data     DataPlane
	mu       sync.Mutex
	nets     []Network
	acls     map[string]*networkACL
	assoc    map[string]string // subnet → ACL id
	assocIDs map[string]string // subnet → association id
	seq      int
}

func newEC2(account string, nets []Network, data DataPlane) *ec2Service {
	s := &ec2Service{account: account, data: data, nets: nets, acls: map[string]*networkACL{}, assoc: map[string]string{}, assocIDs: map[string]string{}}
	for _, n := range nets {
		s.acls[n.DefaultACL] = &networkACL{id: n.DefaultACL, vpc: n.VPC, region: n.Region, isDefault: true, tags: map[string]string{}}
		for _, sn := range n.Subnets {
			s.assoc[sn] = n.DefaultACL
			s.assocIDs[sn] = s.newID("aclassoc")
		}
	}
	return s
}

func (s *ec2Service) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s-0d%015x", prefix, s.seq)
}

// The answers are written here, element by element: the SDK's EC2 client
// has no schema serializers yet, so the names are those its deserializers
// (service/ec2/deserializers.go) read, and every operation is round-tripped
// through the real client in the tests.
type ec2Error struct {
	status     int
	code, text string
}

func (s *ec2Service) handle(c *call) ([]byte, *ec2Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch c.Action {
	case "DescribeNetworkAcls":
		return s.describe(c), nil
	case "CreateNetworkAcl":
		return s.create(c)
	case "ReplaceNetworkAclAssociation":
		return s.replace(c)
	case "DeleteNetworkAcl":
		return s.delete(c)
	}
	return nil, &ec2Error{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the drdrill AWS twin does not model EC2 %s", c.Action)}
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

func (s *ec2Service) aclXML(b *strings.Builder, a *networkACL) {
	fmt.Fprintf(b, "<item><networkAclId>%s</networkAclId><vpcId>%s</vpcId><default>%t</default><ownerId>%s</ownerId><associationSet>",
		a.id, a.vpc, a.isDefault, s.account)
	subnets := make([]string, 0)
	for sn, acl := range s.assoc {
		if acl == a.id {
			subnets = append(subnets, sn)
		}
	}
	sort.Strings(subnets)
	for _, sn := range subnets {
		fmt.Fprintf(b, "<item><networkAclAssociationId>%s</networkAclAssociationId><networkAclId>%s</networkAclId><subnetId>%s</subnetId></item>",
			s.assocIDs[sn], a.id, sn)
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

func (s *ec2Service) describe(c *call) []byte {
	var subnets, ids []string
	for i := 1; ; i++ {
		name, ok := c.Form[fmt.Sprintf("Filter.%d.Name", i)]
		if !ok {
			break
		}
		if len(name) == 1 && name[0] == "association.subnet-id" {
			subnets = append(subnets, listParam(c, fmt.Sprintf("Filter.%d.Value", i))...)
		}
	}
	ids = listParam(c, "NetworkAclId")
	var b strings.Builder
	fmt.Fprintf(&b, `<DescribeNetworkAclsResponse xmlns="%s"><requestId>%s</requestId><networkAclSet>`, ec2Namespace, c.ReqID)
	keys := make([]string, 0, len(s.acls))
	for k := range s.acls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, id := range keys {
		a := s.acls[id]
		if a.region != c.Region || (len(ids) > 0 && !slices.Contains(ids, id)) {
			continue
		}
		if len(subnets) > 0 {
			match := false
			for _, sn := range subnets {
				match = match || s.assoc[sn] == id
			}
			if !match {
				continue
			}
		}
		s.aclXML(&b, a)
	}
	b.WriteString("</networkAclSet></DescribeNetworkAclsResponse>")
	return []byte(b.String())
}

func (s *ec2Service) create(c *call) ([]byte, *ec2Error) {
	vpc := c.Form.Get("VpcId")
	known := false
	for _, n := range s.nets {
		known = known || (n.VPC == vpc && n.Region == c.Region)
	}
	if !known {
		return nil, &ec2Error{http.StatusBadRequest, "InvalidVpcID.NotFound", fmt.Sprintf("The vpc ID '%s' does not exist", vpc)}
	}
	a := &networkACL{id: s.newID("acl"), vpc: vpc, region: c.Region, tags: map[string]string{}}
	for i := 1; ; i++ {
		k, ok := c.Form[fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)]
		if !ok {
			break
		}
		a.tags[k[0]] = c.Form.Get(fmt.Sprintf("TagSpecification.1.Tag.%d.Value", i))
	}
	s.acls[a.id] = a
	var b strings.Builder
	fmt.Fprintf(&b, `<CreateNetworkAclResponse xmlns="%s"><requestId>%s</requestId><networkAcl>`, ec2Namespace, c.ReqID)
	one := strings.Builder{}
	s.aclXML(&one, a)
	b.WriteString(strings.TrimSuffix(strings.TrimPrefix(one.String(), "<item>"), "</item>"))
	b.WriteString("</networkAcl></CreateNetworkAclResponse>")
	return []byte(b.String()), nil
}

func (s *ec2Service) replace(c *call) ([]byte, *ec2Error) {
	assocID, aclID := c.Form.Get("AssociationId"), c.Form.Get("NetworkAclId")
	subnet := ""
	for sn, id := range s.assocIDs {
		if id == assocID {
			subnet = sn
		}
	}
	if subnet == "" {
		return nil, &ec2Error{http.StatusBadRequest, "InvalidAssociationID.NotFound", fmt.Sprintf("The association ID '%s' does not exist", assocID)}
	}
	a, ok := s.acls[aclID]
	if !ok || a.region != c.Region {
		return nil, &ec2Error{http.StatusBadRequest, "InvalidNetworkAclID.NotFound", fmt.Sprintf("The networkAcl ID '%s' does not exist", aclID)}
	}
	s.assoc[subnet] = aclID
	s.assocIDs[subnet] = s.newID("aclassoc")
	s.applyIsolation(c.Region)
	return []byte(fmt.Sprintf(`<ReplaceNetworkAclAssociationResponse xmlns="%s"><requestId>%s</requestId><newAssociationId>%s</newAssociationId></ReplaceNetworkAclAssociationResponse>`,
		ec2Namespace, c.ReqID, s.assocIDs[subnet])), nil
}

func (s *ec2Service) delete(c *call) ([]byte, *ec2Error) {
	id := c.Form.Get("NetworkAclId")
	a, ok := s.acls[id]
	if !ok || a.region != c.Region {
		return nil, &ec2Error{http.StatusBadRequest, "InvalidNetworkAclID.NotFound", fmt.Sprintf("The networkAcl ID '%s' does not exist", id)}
	}
	if a.isDefault {
		return nil, &ec2Error{http.StatusBadRequest, "InvalidParameterValue", "cannot delete default network ACL " + id}
	}
	for sn, acl := range s.assoc {
		if acl == id {
			return nil, &ec2Error{http.StatusBadRequest, "DependencyViolation", fmt.Sprintf("The networkAcl '%s' has dependencies and cannot be deleted (subnet %s).", id, sn)}
		}
	}
	delete(s.acls, id)
	return []byte(fmt.Sprintf(`<DeleteNetworkAclResponse xmlns="%s"><requestId>%s</requestId><return>true</return></DeleteNetworkAclResponse>`, ec2Namespace, c.ReqID)), nil
}

// applyIsolation cuts a region's client path when every one of its
// database subnets is on an ACL that allows nothing, and restores it when
// one is back on an allowing ACL. Called with s.mu held.
func (s *ec2Service) applyIsolation(region string) {
	for _, n := range s.nets {
		if n.Region != region {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.data.Isolate(ctx, region, s.cutOff(n))
		cancel()
	}
}

// cutOff: every database subnet of the network is on an ACL that allows
// nothing. Called with s.mu held.
func (s *ec2Service) cutOff(n Network) bool {
	cut := len(n.Subnets) > 0
	for _, sn := range n.Subnets {
		cut = cut && !s.acls[s.assoc[sn]].isDefault
	}
	return cut
}

// Isolated reports which regions' database subnets are all on deny-all ACLs.
func (s *ec2Service) Isolated() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.nets {
		if s.cutOff(n) {
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

func ec2ErrorResponse(w http.ResponseWriter, e *ec2Error, reqID string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>`,
		e.code, esc(e.text), reqID)
}
