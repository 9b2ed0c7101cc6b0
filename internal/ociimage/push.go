package ociimage

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes the image index of the OCI layout in dir to ref
// ("123456789012.dkr.ecr.us-west-2.amazonaws.com/drdrill-prod-runner:v1"):
// the blobs the registry lacks, each platform's manifest, then the index
// under the tag (remote.WriteIndex). auth nil uses the Docker keychain
// (~/.docker/config.json, credential helpers). It returns the index's
// digest, by which a task definition can pin exactly this build.
func Push(ctx context.Context, dir, ref string, auth authn.Authenticator) (v1.Hash, error) {
	idx, err := ReadLayout(dir)
	if err != nil {
		return v1.Hash{}, err
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("IMAGE=%q is not an image reference: want REGISTRY/REPOSITORY:TAG (%v)", ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if auth != nil {
		opts = append(opts, remote.WithAuth(auth))
	} else {
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if err := remote.WriteIndex(tag, idx, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	return idx.Digest()
}
