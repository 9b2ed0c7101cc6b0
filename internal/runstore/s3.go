package runstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3 is an S3 prefix of runs: s3://bucket/prefix. Objects are written
// under the bucket's default encryption (infra/aws: SSE-KMS with the
// stack's key); nothing here names a key or a storage class.
type S3 struct {
	loc, bucket, prefix string
	client              *s3.Client
}

// openS3 parses s3://bucket[/prefix] and makes a client in the bucket's
// own region: the configured region when HeadBucket there answers, else
// the one its x-amz-bucket-region header names (S3 API Reference,
// HeadBucket), so that `verdict s3://…` works from a machine whose
// default region is another.
func openS3(ctx context.Context, loc string) (*S3, error) {
	rest := strings.TrimPrefix(loc, "s3://")
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("%q names no bucket: want s3://BUCKET/PREFIX (infra/aws's RunnerReportsBucket output)", loc)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: AWS configuration: %w", loc, err)
	}
	st := &S3{loc: loc, bucket: bucket, prefix: strings.Trim(prefix, "/"), client: s3.NewFromConfig(cfg)}
	region, err := st.bucketRegion(ctx)
	if err != nil {
		return nil, err
	}
	if region != "" && region != cfg.Region {
		cfg.Region = region
		st.client = s3.NewFromConfig(cfg)
	}
	return st, nil
}

// bucketRegion is the region S3 says the bucket is in ("" when it says
// nothing, e.g. HeadBucket is not allowed: then the configured region is
// tried as it is).
func (s *S3) bucketRegion(ctx context.Context) (string, error) {
	var region string
	capture := middleware.DeserializeMiddlewareFunc("DrdrillBucketRegion", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
			region = resp.Header.Get("X-Amz-Bucket-Region")
		}
		return out, md, err
	})
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: awssdk.String(s.bucket)}, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error { return st.Deserialize.Add(capture, middleware.After) })
	})
	var status interface{ HTTPStatusCode() int }
	if err != nil && region == "" && errors.As(err, &status) && status.HTTPStatusCode() == http.StatusNotFound {
		return "", fmt.Errorf("%s: bucket %s does not exist (infra/aws's RunnerReportsBucket output names it)", s.loc, s.bucket)
	}
	return region, nil
}

// Location is the prefix as given.
func (s *S3) Location() string { return s.loc }

func (s *S3) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

// List lists the objects and common prefixes directly under dir (one
// ListObjectsV2 per 1,000 entries, rolled up at "/").
func (s *S3) List(ctx context.Context, dir string) (files, dirs []string, err error) {
	pfx := s.key(dir)
	if pfx != "" && !strings.HasSuffix(pfx, "/") {
		pfx += "/"
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: awssdk.String(s.bucket), Prefix: awssdk.String(pfx), Delimiter: awssdk.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: list %s: %w", s.loc, pfx, err)
		}
		for _, cp := range page.CommonPrefixes {
			dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(awssdk.ToString(cp.Prefix), pfx), "/"))
		}
		for _, o := range page.Contents {
			files = append(files, strings.TrimPrefix(awssdk.ToString(o.Key), pfx))
		}
	}
	return files, dirs, nil
}

// Read fetches one object.
func (s *S3) Read(ctx context.Context, name string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String(s.bucket), Key: awssdk.String(s.key(name))})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, notFound(s.loc, name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get %s: %w", s.loc, name, explain(err))
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// Write puts one object, typed by its extension so that a browser shows
// index.html and summary.md from the bucket as pages.
func (s *S3) Write(ctx context.Context, name string, data []byte) error {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".jsonl":
		ct = "application/x-ndjson"
	case ".md":
		ct = "text/markdown; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: awssdk.String(s.bucket), Key: awssdk.String(s.key(name)),
		Body: bytes.NewReader(data), ContentType: awssdk.String(ct)})
	if err != nil {
		return fmt.Errorf("%s: put %s: %w", s.loc, name, explain(err))
	}
	return nil
}

// explain adds what to do to an access denial: the role needs the
// bucket's permissions and, for its KMS key, kms:GenerateDataKey and
// kms:Decrypt.
func explain(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || api.ErrorCode() == "Forbidden") {
		return fmt.Errorf("%w (the caller needs s3:PutObject / s3:GetObject / s3:ListBucket on the bucket, and kms:GenerateDataKey and kms:Decrypt on its key: infra/aws's harness role has them)", err)
	}
	return err
}
