package twin

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

const testReportsKey = "arn:aws:kms:us-west-2:123456789012:key/reports-twin"

func startWithBucket(t *testing.T) *Server {
	t.Helper()
	st := testStack()
	st.Buckets = []Bucket{{Name: "drdrill-reports", Region: "us-west-2", KMSKey: testReportsKey, Versioned: true}}
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: 1}, st, &fixedPlane{primary: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// The unmodified S3 client, as configured by default (no path-style
// option: the SDK addresses a bucket by path when the endpoint is an IP),
// writes, reads and lists a bucket on the twin: SSE-KMS with the bucket's
// key, versions, the CRC32 it sends checked and returned, pages of a
// listing rolled up at the delimiter, and S3's errors typed.
func TestS3ThroughTheSDK(t *testing.T) {
	srv := startWithBucket(t)
	ctx := context.Background()
	c := s3.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	bucket := awssdk.String("drdrill-reports")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for i, key := range []string{"runs/20261201T060000Z/report.json", "runs/20261201T060000Z/planned-switchover/history.jsonl",
		"runs/20261208T060000Z/report.json", "runs/20261215T060000Z/report.json", "runs/index.html", "outputs/flat-outputs.json"} {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if strings.HasSuffix(key, ".jsonl") {
			body = big
		}
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: awssdk.String(key), Body: bytes.NewReader(body), ContentType: awssdk.String("application/json")})
		if err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
		if out.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || awssdk.ToString(out.SSEKMSKeyId) != testReportsKey || awssdk.ToString(out.VersionId) == "" {
			t.Fatalf("PutObject %s: encryption %q key %q version %q", key, out.ServerSideEncryption, awssdk.ToString(out.SSEKMSKeyId), awssdk.ToString(out.VersionId))
		}
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: awssdk.String("runs/20261201T060000Z/planned-switchover/history.jsonl"),
		ChecksumMode: s3types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(got.Body) // the SDK validates the CRC32 as it reads
	if err != nil || !bytes.Equal(b, big) || awssdk.ToString(got.ChecksumCRC32) == "" {
		t.Fatalf("GetObject: %d bytes, crc32 %q, %v", len(b), awssdk.ToString(got.ChecksumCRC32), err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: awssdk.String("runs/index.html")})
	if err != nil || awssdk.ToInt64(head.ContentLength) != int64(len(`{"n":4}`)) || awssdk.ToString(head.ContentType) != "application/json" {
		t.Fatalf("HeadObject: %+v, %v", head, err)
	}
	// The runs under a prefix, two to a page: CommonPrefixes per run,
	// the index file beside them.
	var prefixes, keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: awssdk.String("runs/"), Delimiter: awssdk.String("/"), MaxKeys: awssdk.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, awssdk.ToString(cp.Prefix))
		}
		for _, o := range page.Contents {
			keys = append(keys, awssdk.ToString(o.Key))
		}
	}
	if want := "runs/20261201T060000Z/ runs/20261208T060000Z/ runs/20261215T060000Z/"; strings.Join(prefixes, " ") != want || strings.Join(keys, " ") != "runs/index.html" || pages != 2 {
		t.Fatalf("listing: %d pages, prefixes %v, keys %v", pages, prefixes, keys)
	}
	var nsk *s3types.NoSuchKey
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: awssdk.String("runs/nothing")}); !errors.As(err, &nsk) {
		t.Fatalf("GetObject of a missing key: %v, want NoSuchKey", err)
	}
	var nf *s3types.NotFound
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: awssdk.String("runs/nothing")}); !errors.As(err, &nf) {
		t.Fatalf("HeadObject of a missing key: %v, want NotFound", err)
	}
	var api smithy.APIError
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("someone-elses"), Key: awssdk.String("k")}); !errors.As(err, &api) || api.ErrorCode() != "NoSuchBucket" {
		t.Fatalf("a bucket the stack lacks: %v", err)
	}
	// From another region: HeadBucket says where the bucket is, the
	// others refuse the signature's region.
	east := s3.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"))
	if _, err := east.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: awssdk.String("runs/index.html")}); !errors.As(err, &api) || api.ErrorCode() != "AuthorizationHeaderMalformed" {
		t.Fatalf("GetObject signed for us-east-1: %v", err)
	}
	if keys := serviceOf[*s3Service](srv).Keys("drdrill-reports", "outputs/"); len(keys) != 1 {
		t.Fatalf("Keys: %v", keys)
	}
}

// Clients that stream over TLS send aws-chunked bodies with the checksum
// as a trailer (the Go SDK does it only over TLS, so it is decoded here
// from a body written as the S3 API Reference lays it out); a checksum
// that does not match is refused.
func TestS3ReadsAWSChunkedBodies(t *testing.T) {
	body := "hello, chunked world"
	chunked := fmt.Sprintf("%x;chunk-signature=abc\r\n%s\r\n%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n",
		5, body[:5], len(body)-5, body[5:], "nDd8Tg==")
	c := &call{Params: map[string]any{"Body": []byte(chunked)}, Header: map[string][]string{
		"Content-Encoding": {"aws-chunked"}, "X-Amz-Decoded-Content-Length": {fmt.Sprint(len(body))}}}
	got, crc, e := payload(c)
	if e != nil && e.Code != "BadDigest" {
		t.Fatalf("payload: %v", e)
	}
	if e == nil {
		t.Fatalf("a wrong trailer checksum was accepted: %q, %q", got, crc)
	}
	sum := crc32.ChecksumIEEE([]byte(body))
	good := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	c.Params["Body"] = []byte(strings.Replace(chunked, "nDd8Tg==", good, 1))
	if got, crc, e = payload(c); e != nil || string(got) != body || crc != good {
		t.Fatalf("payload: %q %q %v", got, crc, e)
	}
}

// The bucket policy's explicit denies apply to every caller: infra/aws's
// TLS-only statement lets the twin's requests through (they stand for
// S3's TLS endpoint), a statement denying a prefix refuses it.
func TestS3BucketPolicyDenies(t *testing.T) {
	st := testStack()
	policy := `{"Statement":[{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::drdrill-reports","arn:aws:s3:::drdrill-reports/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Sid":"Sealed","Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::drdrill-reports/sealed/*"}]}`
	st.Buckets = []Bucket{{Name: "drdrill-reports", Region: "us-west-2", Policy: policy}}
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012"}, st, &fixedPlane{primary: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := s3.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String("drdrill-reports"), Key: awssdk.String("runs/a"), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatalf("PutObject under the TLS-only policy: %v", err)
	}
	var api smithy.APIError
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String("drdrill-reports"), Key: awssdk.String("sealed/a"), Body: bytes.NewReader([]byte("x"))}); !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Fatalf("PutObject denied by the bucket policy: %v", err)
	}
}
