package twin

import "testing"

func TestPolicyEvaluation(t *testing.T) {
	p, err := ParsePolicies([]string{`{"Statement":[
		{"Effect":"Allow","Action":"rds:Describe*","Resource":"arn:aws:rds:*:1:cluster:dr-*"},
		{"Effect":"Allow","Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":["arn:aws:kms:us-west-2:1:key/k"],"Condition":{"StringEquals":{"kms:ViaService":"sns.us-west-2.amazonaws.com"}}},
		{"Effect":"Deny","Action":"rds:DescribeDBClusters","Resource":"arn:aws:rds:us-east-1:1:cluster:dr-secret"},
		{"Effect":"Allow","Action":"cloudwatch:PutMetricData","Resource":"*","Condition":{"NumericLessThan":{"x":"1"}}}]}`})
	if err != nil {
		t.Fatal(err)
	}
	via := map[string]string{"kms:ViaService": "sns.us-west-2.amazonaws.com"}
	for _, c := range []struct {
		action, resource string
		keys             map[string]string
		want             bool
	}{
		{"rds:DescribeDBClusters", "arn:aws:rds:us-west-2:1:cluster:dr-secondary", nil, true},
		{"RDS:describedbclusters", "arn:aws:rds:us-west-2:1:cluster:dr-secondary", nil, true}, // actions ignore case
		{"rds:FailoverGlobalCluster", "arn:aws:rds:us-west-2:1:cluster:dr-secondary", nil, false},
		{"rds:DescribeDBClusters", "arn:aws:rds:us-east-1:1:cluster:dr-secret", nil, false}, // an explicit deny wins
		{"kms:GenerateDataKey", "arn:aws:kms:us-west-2:1:key/k", via, true},
		{"kms:GenerateDataKey", "arn:aws:kms:us-west-2:1:key/k", map[string]string{"kms:ViaService": "sqs.us-west-2.amazonaws.com"}, false},
		{"kms:Decrypt", "arn:aws:kms:us-west-2:1:key/k", nil, false},          // the condition key is absent
		{"cloudwatch:PutMetricData", "*", map[string]string{"x": "0"}, false}, // an operator not modelled never holds
	} {
		if got := p.Allows(c.action, c.resource, c.keys); got != c.want {
			t.Errorf("Allows(%s, %s, %v) = %v, want %v", c.action, c.resource, c.keys, got, c.want)
		}
	}
}
