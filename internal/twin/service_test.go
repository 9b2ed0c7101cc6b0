package twin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// handlerFunc is a handler written as one function.
type handlerFunc func(c *call) (smithy.Serializable, *APIError)

func (f handlerFunc) handle(c *call) (smithy.Serializable, *APIError) { return f(c) }

// A service is one definition and one registry line. A minimal S3 —
// restXml, path-style with greedy keys, a route told apart by its query
// (list-type=2), a raw payload in and out, headers, a 204, S3's unwrapped
// errors — defined and registered by this test alone, answers the
// unmodified S3 client: what the S3, EventBridge Scheduler, ECS and KMS
// services of the twin need from its dispatch, nothing touched elsewhere.
func TestAServiceIsOneDefinitionAndOneRegistryLine(t *testing.T) {
	objects := map[string][]byte{}
	notFound := &APIError{Status: http.StatusNotFound, Code: "NoSuchKey", Sender: true, Message: "The specified key does not exist."}
	toyS3 := service{
		name: "s3", protocols: []protocol{restXML}, xmlns: "http://s3.amazonaws.com/doc/2006-03-01/", unwrappedErrors: true,
		routes: []route{
			{method: "GET", path: "/{Bucket}", query: "list-type=2", action: "ListObjectsV2"},
			{method: "PUT", path: "/{Bucket}/{Key+}", action: "PutObject", payload: "Body"},
			{method: "GET", path: "/{Bucket}/{Key+}", action: "GetObject"},
			{method: "DELETE", path: "/{Bucket}/{Key+}", action: "DeleteObject"},
		},
		throttling: APIError{Status: http.StatusServiceUnavailable, Code: "SlowDown", Message: "Please reduce your request rate."},
		iam:        iamRules{prefix: "s3"},
		start: func(*Server) (handler, error) {
			return handlerFunc(func(c *call) (smithy.Serializable, *APIError) {
				key := str(c.Params, "Bucket") + "/" + str(c.Params, "Key")
				switch c.Action {
				case "PutObject":
					objects[key] = c.Params["Body"].([]byte)
					return httpAnswer{Header: http.Header{"Etag": {`"1"`}}}, nil
				case "GetObject":
					b, ok := objects[key]
					if !ok {
						return nil, notFound
					}
					return httpAnswer{Header: http.Header{"Content-Type": {c.Header.Get("X-Drdrill-Want")}, "Etag": {`"1"`}}, Body: b}, nil
				case "DeleteObject":
					delete(objects, key)
					return httpAnswer{Status: http.StatusNoContent}, nil
				case "ListObjectsV2":
					var b bytes.Buffer
					fmt.Fprintf(&b, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>`,
						esc(str(c.Params, "Bucket")), esc(c.Query.Get("prefix")), len(objects))
					for k, v := range objects {
						fmt.Fprintf(&b, `<Contents><Key>%s</Key><Size>%d</Size></Contents>`, esc(k[len(str(c.Params, "Bucket"))+1:]), len(v))
					}
					b.WriteString(`</ListBucketResult>`)
					return xmlDocument(b.Bytes()), nil
				}
				return nil, unmodelled(c)
			}), nil
		},
	}
	// The toy stands in for the twin's own S3 for this test.
	saved := services
	services = append(slices.DeleteFunc(slices.Clone(services), func(d *service) bool { return d.name == "s3" }), &toyS3)
	t.Cleanup(func() { services = saved })
	srv, _ := startFixed(t, 1)
	ctx := context.Background()
	c := s3.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String("reports"), Key: awssdk.String("run 1/report.json"),
		Body: bytes.NewReader([]byte(`{"rto_ms":1}`))}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("reports"), Key: awssdk.String("run 1/report.json")},
		func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("X-Drdrill-Want", "application/json"))
		})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if string(body) != `{"rto_ms":1}` || awssdk.ToString(got.ContentType) != "application/json" || awssdk.ToString(got.ETag) != `"1"` {
		t.Fatalf("GetObject: %q, %+v", body, got)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("reports"), Prefix: awssdk.String("run")})
	if err != nil || len(list.Contents) != 1 || awssdk.ToString(list.Contents[0].Key) != "run 1/report.json" || awssdk.ToString(list.Prefix) != "run" {
		t.Fatalf("ListObjectsV2: %+v, %v", list, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: awssdk.String("reports"), Key: awssdk.String("run 1/report.json")}); err != nil {
		t.Fatal(err)
	}
	var nsk *s3types.NoSuchKey
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("reports"), Key: awssdk.String("run 1/report.json")}); !errors.As(err, &nsk) {
		t.Fatalf("GetObject of a deleted key: %v, want the SDK's NoSuchKey", err)
	}
	srv.Throttle("s3", "GetObject", 100)
	var api smithy.APIError
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("reports"), Key: awssdk.String("x")}); !errors.As(err, &api) || api.ErrorCode() != "SlowDown" {
		t.Fatalf("GetObject throttled: %v, want SlowDown", err)
	}
}
