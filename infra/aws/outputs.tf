# The contract the suites read through cfn-outputs/flat-outputs.json
# (`make outputs`). Names follow the stack spec; lists are JSON-encoded.

output "PrimaryVPCId" {
  description = "Primary VPC."
  value       = aws_vpc.primary.id
}

output "SecondaryVPCId" {
  description = "Secondary VPC."
  value       = aws_vpc.secondary.id
}

output "VPCPeeringConnectionId" {
  description = "Cross-region peering connection."
  value       = aws_vpc_peering_connection.primary.id
}

output "GlobalClusterIdentifier" {
  description = "Aurora global cluster identifier."
  value       = aws_rds_global_cluster.global.global_cluster_identifier
}

output "PrimaryClusterIdentifier" {
  description = "Primary regional cluster identifier."
  value       = aws_rds_cluster.primary.cluster_identifier
}

output "SecondaryClusterIdentifier" {
  description = "Secondary regional cluster identifier."
  value       = aws_rds_cluster.secondary.cluster_identifier
}

output "PrimaryClusterArn" {
  description = "Primary regional cluster ARN."
  value       = aws_rds_cluster.primary.arn
}

output "SecondaryClusterArn" {
  description = "Secondary regional cluster ARN (the failover target)."
  value       = aws_rds_cluster.secondary.arn
}

output "PrimaryClusterEndpoint" {
  description = "Primary cluster (writer) endpoint."
  value       = aws_rds_cluster.primary.endpoint
}

output "SecondaryClusterEndpoint" {
  description = "Secondary cluster endpoint."
  value       = aws_rds_cluster.secondary.endpoint
}

# A cluster's writer endpoint is inactive while the cluster is a secondary
# (AWS Database Blog, "Automate Amazon Aurora Global Database endpoint
# management"): the harness reads each region through its reader endpoint,
# which works in either role.
output "PrimaryReaderEndpoint" {
  description = "Primary cluster's reader endpoint (reaches the region in either role)."
  value       = aws_rds_cluster.primary.reader_endpoint
}

output "SecondaryReaderEndpoint" {
  description = "Secondary cluster's reader endpoint (reaches the region in either role)."
  value       = aws_rds_cluster.secondary.reader_endpoint
}

output "GlobalWriterEndpoint" {
  description = "Aurora global writer endpoint: always routes to the current primary."
  value       = aws_rds_global_cluster.global.endpoint
}

output "DatabaseSecretArn" {
  description = "Secrets Manager secret with the master credentials (the password is never in state)."
  value       = aws_secretsmanager_secret.db.arn
}

output "PrimaryHealthMonitorFunctionName" {
  description = "Health monitor in the primary region."
  value       = aws_lambda_function.monitor_primary.function_name
}

output "SecondaryHealthMonitorFunctionName" {
  description = "Health monitor in the secondary region."
  value       = aws_lambda_function.monitor_secondary.function_name
}

output "FailoverTriggerFunctionName" {
  description = "Failover trigger (secondary region)."
  value       = aws_lambda_function.trigger.function_name
}

output "PrimaryHealthMonitorFunctionArn" {
  description = "Health monitor ARN, primary region."
  value       = aws_lambda_function.monitor_primary.arn
}

output "SecondaryHealthMonitorFunctionArn" {
  description = "Health monitor ARN, secondary region."
  value       = aws_lambda_function.monitor_secondary.arn
}

output "FailoverTriggerFunctionArn" {
  description = "Failover trigger ARN."
  value       = aws_lambda_function.trigger.arn
}

output "PrimarySNSTopicArn" {
  description = "Alert topic, primary region."
  value       = aws_sns_topic.primary.arn
}

output "SecondarySNSTopicArn" {
  description = "Alert topic, secondary region."
  value       = aws_sns_topic.secondary.arn
}

output "ReplicationLagAlarmName" {
  description = "Replication-lag alarm in the secondary region (its twin in the primary region ends in -primary)."
  value       = aws_cloudwatch_metric_alarm.lag_secondary.alarm_name
}

output "PrimaryHealthCheckId" {
  description = "Route 53 health check of the primary region."
  value       = aws_route53_health_check.primary.id
}

output "SecondaryHealthCheckId" {
  description = "Route 53 health check of the secondary region."
  value       = aws_route53_health_check.secondary.id
}

output "PrimaryRegion" {
  description = "Primary region."
  value       = var.primary_region
}

output "SecondaryRegion" {
  description = "Secondary region."
  value       = var.secondary_region
}

output "DatabaseName" {
  description = "Database the drills write to."
  value       = var.database_name
}

output "PrimaryDatabaseSubnetIds" {
  description = "Database subnets, primary region (JSON list in flat outputs)."
  value       = aws_subnet.primary[*].id
}

output "SecondaryDatabaseSubnetIds" {
  description = "Database subnets, secondary region."
  value       = aws_subnet.secondary[*].id
}

output "PrimaryDatabaseNetworkAclId" {
  description = "Network ACL of the primary database subnets (the isolation fault swaps it)."
  value       = aws_network_acl.db_primary.id
}

output "SecondaryDatabaseNetworkAclId" {
  description = "Network ACL of the secondary database subnets."
  value       = aws_network_acl.db_secondary.id
}

output "TargetKind" {
  description = "Tells drdrill this outputs file describes an AWS stack."
  value       = "aws"
}

output "HarnessRoleArn" {
  description = "drdrill's own role (harness.tf): the scheduled runner's task role, or assumed by var.harness_principal_arns."
  value       = aws_iam_role.harness.arn
}
