package twin

import (
	"net/http"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	stsschemas "github.com/aws/aws-sdk-go-v2/service/sts/schemas"
	"github.com/aws/smithy-go"
)

// stsAPI is STS as the twin serves it: GetCallerIdentity (awsQuery).
var stsAPI = service{
	name:       "sts",
	protocols:  []protocol{awsQuery},
	schema:     stsschemas.AWSSecurityTokenServiceV20110615,
	errors:     sts.TypeRegistry,
	throttling: APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded"},
	// GetCallerIdentity: "No permissions are required to perform this
	// operation" (STS API reference).
	iam:   iamRules{prefix: "sts", required: func(*Server, *call) []authorization { return []authorization{} }},
	start: func(s *Server) (handler, error) { return &stsService{account: s.cfg.Account}, nil },
}

type stsService struct{ account string }

func (s *stsService) handle(c *call) (smithy.Serializable, *APIError) {
	if c.Action != "GetCallerIdentity" {
		return nil, unmodelled(c)
	}
	return &sts.GetCallerIdentityOutput{Account: awssdk.String(s.account),
		Arn: awssdk.String("arn:aws:iam::" + s.account + ":user/drdrill-twin"), UserId: awssdk.String("AIDADRDRILLTWIN")}, nil
}
