package twin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smschemas "github.com/aws/aws-sdk-go-v2/service/secretsmanager/schemas"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/stackspec"
)

// secretsManagerAPI is Secrets Manager as the twin serves it:
// GetSecretValue (awsJson1_1).
var secretsManagerAPI = service{
	name:       "secretsmanager",
	protocols:  []protocol{awsJSON11},
	schema:     smschemas.Secretsmanager,
	errors:     secretsmanager.TypeRegistry,
	throttling: APIError{Status: http.StatusBadRequest, Code: "ThrottlingException", Sender: true, Message: "Rate exceeded"},
	iam: iamRules{prefix: "secretsmanager", required: secretsRequired,
		denied: APIError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true}},
	start: func(s *Server) (handler, error) {
		return &secretsManager{account: s.cfg.Account, secret: s.stack.Secret, created: time.Now()}, nil
	},
}

// secretsRequired: the secret's ARN in the region asked, and kms:Decrypt
// on its key via Secrets Manager (Secrets Manager User Guide, "Secret
// encryption and decryption").
func secretsRequired(s *Server, c *call) []authorization {
	if c.Action != "GetSecretValue" {
		return nil
	}
	auth := []authorization{{action: "secretsmanager:GetSecretValue", resource: stackspec.SecretARN(c.Region, s.cfg.Account, s.stack.Secret.Name)}}
	if key := s.stack.SecretKeys[c.Region]; key != "" {
		auth = append(auth, authorization{action: "kms:Decrypt", resource: key, kms: true,
			keys: map[string]string{"kms:ViaService": "secretsmanager." + c.Region + ".amazonaws.com"}})
	}
	return auth
}

// Secret is the stack's database secret: created in the primary region
// with a replica in the secondary (infra/aws database.tf), its value the
// JSON {"username", "password"} the Lambdas and the AWS target parse.
type Secret struct {
	Name               string
	Username, Password string
}

type secretsManager struct {
	account string
	secret  Secret
	created time.Time
}

// arn is the secret's ARN in a region: the replica keeps the name and the
// suffix, only the region changes (Secrets Manager User Guide, "Replicate
// an AWS Secrets Manager secret to other AWS Regions").
func (s *secretsManager) arn(region string) string {
	return stackspec.SecretARN(region, s.account, s.secret.Name)
}

func (s *secretsManager) handle(c *call) (smithy.Serializable, *APIError) {
	if c.Action != "GetSecretValue" {
		return nil, unmodelled(c)
	}
	id := str(c.Params, "SecretId")
	if id != s.secret.Name && id != s.arn(c.Region) && !strings.HasPrefix(s.arn(c.Region), id+"-") {
		// The ARN of another region's copy, or an unknown name, is not
		// found here (AWS: ResourceNotFoundException, HTTP 400).
		return nil, &APIError{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Sender: true,
			Message: "Secrets Manager can't find the specified secret."}
	}
	value, _ := json.Marshal(map[string]string{"username": s.secret.Username, "password": s.secret.Password})
	return &secretsmanager.GetSecretValueOutput{ARN: awssdk.String(s.arn(c.Region)), Name: awssdk.String(s.secret.Name),
		SecretString: awssdk.String(string(value)), VersionId: awssdk.String("00000000-0000-4000-8000-000000000001"),
		VersionStages: []string{"AWSCURRENT"}, CreatedDate: awssdk.Time(s.created)}, nil
}
