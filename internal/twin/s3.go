package twin

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
)

// s3API is Amazon S3 as the twin serves it (restXml, path-style: the SDK
// addresses a bucket by path when the endpoint is an IP address): the
// object calls drdrill's run store makes, on the buckets infra/aws
// declares, with their default encryption, versioning and region. The S3
// SDK has no schema serializers yet, so answers are XML documents with the
// element names its deserializers read (S3 API Reference).
var s3API = service{
	name: "s3", protocols: []protocol{restXML}, xmlns: s3Namespace, unwrappedErrors: true,
	// A history of a long drill at a high rate runs to tens of megabytes.
	maxBody: 512 << 20,
	routes: []route{
		{method: "HEAD", path: "/{Bucket}", action: "HeadBucket"},
		{method: "GET", path: "/{Bucket}", query: "list-type=2", action: "ListObjectsV2"},
		{method: "PUT", path: "/{Bucket}/{Key+}", action: "PutObject", payload: "Body"},
		{method: "GET", path: "/{Bucket}/{Key+}", action: "GetObject"},
		{method: "HEAD", path: "/{Bucket}/{Key+}", action: "HeadObject"},
		{method: "DELETE", path: "/{Bucket}/{Key+}", action: "DeleteObject"},
	},
	throttling: APIError{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."},
	iam:        iamRules{prefix: "s3", required: s3Required, denied: APIError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true}},
	start: func(s *Server) (handler, error) {
		svc := &s3Service{account: s.cfg.Account, buckets: map[string]*bucket{}}
		for _, b := range s.stack.Buckets {
			svc.buckets[b.Name] = &bucket{Bucket: b, objects: map[string]*object{}, denies: bucketDenies(b.Policy)}
		}
		return svc, nil
	},
}

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// Bucket is an S3 bucket infra/aws declares: its region, the KMS key of
// its default encryption (SSE-KMS; "" is SSE-S3), whether versioning is
// on, and its bucket policy (JSON; "" for none).
type Bucket struct {
	Name, Region, KMSKey string
	Versioned            bool
	Policy               string
}

type bucket struct {
	Bucket
	objects map[string]*object
	denies  []bucketDeny // the policy's Deny statements for everyone, read once
}

// bucketDeny is a bucket policy Deny statement whose Principal is
// everyone, its Bool conditions as string comparisons.
type bucketDeny struct {
	action, resource stringList
	cond             map[string]map[string][]string
}

type object struct {
	body         []byte
	etag         string
	contentType  string
	lastModified time.Time
	versionID    string
	crc32        string // the client's full-object CRC32, base64 (x-amz-checksum-crc32)
}

type s3Service struct {
	account string
	mu      sync.Mutex
	buckets map[string]*bucket
	seq     int64
}

// PutObject stores an object as a deployment would have (the twin's
// seeding of what Terraform's aws_s3_object writes).
func (s *s3Service) PutObject(bucketName, key string, body []byte, contentType string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return fmt.Errorf("no bucket %s in the stack", bucketName)
	}
	s.put(b, key, body, contentType, "")
	return nil
}

func (s *s3Service) put(b *bucket, key string, body []byte, contentType, crc string) *object {
	sum := md5.Sum(body)
	s.seq++
	o := &object{body: append([]byte(nil), body...), etag: `"` + hex.EncodeToString(sum[:]) + `"`, contentType: contentType,
		lastModified: time.Now().UTC().Truncate(time.Second), crc32: crc}
	if b.Versioned {
		o.versionID = fmt.Sprintf("drdrilltwin.%012d", s.seq)
	}
	b.objects[key] = o
	return o
}

// Keys are the keys of a bucket's objects under prefix, sorted.
func (s *s3Service) Keys(bucketName, prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if b, ok := s.buckets[bucketName]; ok {
		for k := range b.objects {
			if strings.HasPrefix(k, prefix) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// s3Required is what IAM needs for an S3 call (Service Authorization
// Reference, Amazon S3): the object ARN for object calls, the bucket ARN
// for ListObjectsV2 (s3:ListBucket, with s3:prefix) and HeadBucket; an
// object in a bucket encrypted with a KMS key also needs
// kms:GenerateDataKey to be written and kms:Decrypt to be read, through
// S3 on the caller's behalf (Amazon S3 User Guide, "Using server-side
// encryption with AWS KMS keys (SSE-KMS)": "permissions for the
// kms:GenerateDataKey … kms:Decrypt").
func s3Required(s *Server, c *call) []authorization {
	svc := serviceOf[*s3Service](s)
	name, key := str(c.Params, "Bucket"), str(c.Params, "Key")
	bucketARN, objectARN := "arn:aws:s3:::"+name, "arn:aws:s3:::"+name+"/"+key
	kmsKey := ""
	if svc != nil {
		svc.mu.Lock()
		if b, ok := svc.buckets[name]; ok {
			kmsKey = b.KMSKey
		}
		svc.mu.Unlock()
	}
	via := map[string]string{"kms:ViaService": "s3." + c.Region + ".amazonaws.com"}
	switch c.Action {
	case "ListObjectsV2", "HeadBucket":
		return []authorization{{action: "s3:ListBucket", resource: bucketARN, keys: map[string]string{"s3:prefix": c.Query.Get("prefix")}}}
	case "PutObject":
		need := []authorization{{action: "s3:PutObject", resource: objectARN}}
		if kmsKey != "" {
			need = append(need, authorization{action: "kms:GenerateDataKey", resource: kmsKey, keys: via, kms: true})
		}
		return need
	case "GetObject", "HeadObject":
		need := []authorization{{action: "s3:GetObject", resource: objectARN}}
		if kmsKey != "" {
			need = append(need, authorization{action: "kms:Decrypt", resource: kmsKey, keys: via, kms: true})
		}
		return need
	case "DeleteObject":
		return []authorization{{action: "s3:DeleteObject", resource: objectARN}}
	}
	return nil
}

func s3Error(status int, code, format string, a ...any) *APIError {
	return &APIError{Status: status, Code: code, Sender: status < 500, Message: fmt.Sprintf(format, a...)}
}

func (s *s3Service) handle(c *call) (smithy.Serializable, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, key := str(c.Params, "Bucket"), str(c.Params, "Key")
	b, ok := s.buckets[name]
	if !ok {
		return nil, s3Error(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	}
	// A request signed for another region than the bucket's: HeadBucket
	// answers 301 with the bucket's region (x-amz-bucket-region), the
	// others refuse the signature's region (S3 API Reference, HeadBucket;
	// "Making requests": AuthorizationHeaderMalformed).
	if c.Region != b.Region {
		if c.Action == "HeadBucket" {
			return httpAnswer{Status: http.StatusMovedPermanently, Header: http.Header{"X-Amz-Bucket-Region": {b.Region}}}, nil
		}
		return nil, s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region '%s' is wrong; expecting '%s'", c.Region, b.Region)
	}
	if e := b.policyDenies(c, name, key); e != nil {
		return nil, e
	}
	switch c.Action {
	case "HeadBucket":
		return httpAnswer{Header: http.Header{"X-Amz-Bucket-Region": {b.Region}}}, nil
	case "PutObject":
		body, crc, e := payload(c)
		if e != nil {
			return nil, e
		}
		ct := c.Header.Get("Content-Type")
		if ct == "" {
			ct = "binary/octet-stream"
		}
		o := s.put(b, key, body, ct, crc)
		h := b.encryptionHeaders()
		h.Set("Etag", o.etag)
		if o.versionID != "" {
			h.Set("X-Amz-Version-Id", o.versionID)
		}
		if crc != "" {
			h.Set("X-Amz-Checksum-Crc32", crc)
		}
		return httpAnswer{Header: h}, nil
	case "GetObject", "HeadObject":
		o, ok := b.objects[key]
		if !ok {
			return nil, s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		}
		h := b.encryptionHeaders()
		h.Set("Etag", o.etag)
		h.Set("Content-Type", o.contentType)
		h.Set("Content-Length", strconv.Itoa(len(o.body)))
		h.Set("Last-Modified", o.lastModified.Format(http.TimeFormat))
		if o.versionID != "" {
			h.Set("X-Amz-Version-Id", o.versionID)
		}
		// The stored checksum, when the client asks to validate it.
		if o.crc32 != "" && strings.EqualFold(c.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
			h.Set("X-Amz-Checksum-Crc32", o.crc32)
			h.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
		}
		if c.Action == "HeadObject" {
			return httpAnswer{Header: h, Body: []byte{}}, nil
		}
		return httpAnswer{Header: h, Body: o.body}, nil
	case "DeleteObject":
		delete(b.objects, key)
		return httpAnswer{Status: http.StatusNoContent}, nil
	case "ListObjectsV2":
		return s.list(b, c)
	}
	return nil, unmodelled(c)
}

// encryptionHeaders say how S3 encrypted an object: with the bucket's KMS
// key under its default encryption, else SSE-S3 (every new object is
// encrypted since January 2023: S3 User Guide, "Setting default
// server-side encryption behavior").
func (b *bucket) encryptionHeaders() http.Header {
	if b.KMSKey == "" {
		return http.Header{"X-Amz-Server-Side-Encryption": {"AES256"}}
	}
	return http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {b.KMSKey}}
}

// list answers ListObjectsV2: keys after the continuation token (or
// start-after) under the prefix, rolled up into CommonPrefixes at the
// delimiter, at most max-keys (1000 when unset or larger) per page.
func (s *s3Service) list(b *bucket, c *call) (smithy.Serializable, *APIError) {
	q := c.Query
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, s3Error(http.StatusBadRequest, "InvalidArgument", "max-keys must be a non-negative integer")
		}
		maxKeys = min(n, 1000)
	}
	after := q.Get("start-after")
	if tok := q.Get("continuation-token"); tok != "" {
		k, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			return nil, s3Error(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(k)
	}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	type entry struct{ key, prefix string }
	var page []entry
	truncated, last := false, ""
	for _, k := range keys {
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if len(page) > 0 && page[len(page)-1].prefix == cp {
					last = k // the rest of a rolled-up prefix costs nothing
					continue
				}
				if len(page) == maxKeys {
					truncated = true
					break
				}
				page, last = append(page, entry{prefix: cp}), k
				continue
			}
		}
		if len(page) == maxKeys {
			truncated = true
			break
		}
		page, last = append(page, entry{key: k}), k
	}
	var x bytes.Buffer
	fmt.Fprintf(&x, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="%s"><Name>%s</Name><Prefix>%s</Prefix>`, s3Namespace, esc(b.Name), esc(prefix))
	if delim != "" {
		fmt.Fprintf(&x, `<Delimiter>%s</Delimiter>`, esc(delim))
	}
	fmt.Fprintf(&x, `<MaxKeys>%d</MaxKeys><KeyCount>%d</KeyCount><IsTruncated>%t</IsTruncated>`, maxKeys, len(page), truncated)
	if tok := q.Get("continuation-token"); tok != "" {
		fmt.Fprintf(&x, `<ContinuationToken>%s</ContinuationToken>`, esc(tok))
	}
	if truncated {
		fmt.Fprintf(&x, `<NextContinuationToken>%s</NextContinuationToken>`, base64.StdEncoding.EncodeToString([]byte(last)))
	}
	if sa := q.Get("start-after"); sa != "" {
		fmt.Fprintf(&x, `<StartAfter>%s</StartAfter>`, esc(sa))
	}
	for _, e := range page {
		if e.prefix != "" {
			fmt.Fprintf(&x, `<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>`, esc(e.prefix))
			continue
		}
		o := b.objects[e.key]
		fmt.Fprintf(&x, `<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`,
			esc(e.key), o.lastModified.Format("2006-01-02T15:04:05.000Z"), esc(o.etag), len(o.body))
	}
	x.WriteString(`</ListBucketResult>`)
	return xmlDocument(x.Bytes()), nil
}

// payload is a PutObject's body and the client's CRC32 of it: the body as
// sent, or decoded from the aws-chunked encoding the SDKs stream with
// (chunks with their sizes, then the checksum as a trailer: S3 API
// Reference, "Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks"). A checksum that does not
// match the body is refused, as S3 refuses it.
func payload(c *call) ([]byte, string, *APIError) {
	raw, _ := c.Params["Body"].([]byte)
	body, crc := raw, c.Header.Get("X-Amz-Checksum-Crc32")
	if strings.Contains(c.Header.Get("Content-Encoding"), "aws-chunked") || strings.HasPrefix(c.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		var trailers map[string]string
		var err error
		if body, trailers, err = unchunk(raw); err != nil {
			return nil, "", s3Error(http.StatusBadRequest, "IncompleteBody", "the aws-chunked body cannot be read: %v", err)
		}
		if v, ok := trailers["x-amz-checksum-crc32"]; ok {
			crc = v
		}
		if n := c.Header.Get("X-Amz-Decoded-Content-Length"); n != "" && n != strconv.Itoa(len(body)) {
			return nil, "", s3Error(http.StatusBadRequest, "IncompleteBody", "x-amz-decoded-content-length %s, %d bytes decoded", n, len(body))
		}
	}
	if crc != "" {
		sum := crc32.ChecksumIEEE(body)
		if got := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}); got != crc {
			return nil, "", s3Error(http.StatusBadRequest, "BadDigest", "The CRC32 you specified did not match the calculated checksum.")
		}
	}
	return body, crc, nil
}

// unchunk decodes an aws-chunked body: "<hex size>[;chunk-signature=…]\r\n
// <data>\r\n" … "0\r\n", then trailer lines "name:value\r\n" and "\r\n".
func unchunk(raw []byte) ([]byte, map[string]string, error) {
	r := bufio.NewReader(bytes.NewReader(raw))
	var body []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("chunk size %q", sizeHex)
		}
		if n == 0 {
			break
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, nil, fmt.Errorf("chunk of %d bytes: %w", n, err)
		}
		body = append(body, chunk...)
		if crlf, err := r.ReadString('\n'); err != nil || strings.TrimSpace(crlf) != "" {
			return nil, nil, fmt.Errorf("no CRLF after a chunk")
		}
	}
	trailers := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && !slices.Contains([]string{"x-amz-trailer-signature"}, strings.ToLower(k)) {
			trailers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
		if err != nil {
			break
		}
	}
	return body, trailers, nil
}

// policyDenies evaluates the bucket policy's Deny statements, which apply
// to every caller their Principal names ("*" here: infra/aws's is
// TLS-only), whatever their own policies allow (IAM User Guide, "Policy
// evaluation logic": an explicit deny in any policy wins). A request to
// the twin stands for one to S3's TLS endpoint, so aws:SecureTransport is
// "true"; Bool conditions compare as strings.
func (b *bucket) policyDenies(c *call, name, key string) *APIError {
	if len(b.denies) == 0 {
		return nil
	}
	action := "s3:" + map[string]string{"HeadBucket": "ListBucket", "ListObjectsV2": "ListBucket", "HeadObject": "GetObject"}[c.Action]
	if action == "s3:" {
		action = "s3:" + c.Action
	}
	resource := "arn:aws:s3:::" + name
	if key != "" {
		resource += "/" + key
	}
	keys := map[string]string{"aws:SecureTransport": "true", "s3:prefix": c.Query.Get("prefix")}
	for _, d := range b.denies {
		if matchAny(d.action, action, true) && matchAny(d.resource, resource, false) && conditionsHold(d.cond, keys) {
			return s3Error(http.StatusForbidden, "AccessDenied", "Access Denied (an explicit deny in the bucket policy of %s)", name)
		}
	}
	return nil
}

// bucketDenies reads a bucket policy's Deny statements for everyone (nil
// when there is none or it does not read).
func bucketDenies(policy string) []bucketDeny {
	if policy == "" {
		return nil
	}
	var doc struct {
		Statement []struct {
			Effect    string
			Principal any
			Action    stringList
			Resource  stringList
			Condition map[string]map[string]stringList
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil
	}
	var out []bucketDeny
	for _, st := range doc.Statement {
		if st.Effect != "Deny" || st.Principal != "*" && fmt.Sprint(st.Principal) != "map[AWS:*]" {
			continue
		}
		cond := map[string]map[string][]string{}
		for op, kv := range st.Condition {
			if op == "Bool" {
				op = "StringEquals"
			}
			cond[op] = map[string][]string{}
			for k, v := range kv {
				cond[op][k] = v
			}
		}
		out = append(out, bucketDeny{action: st.Action, resource: st.Resource, cond: cond})
	}
	return out
}
