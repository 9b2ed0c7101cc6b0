# Two VPCs with three private subnets each (one per AZ), peered, with
# explicit network ACLs on the database subnets (the isolation fault swaps
# them) and interface endpoints for exactly the AWS APIs the Lambdas call: the
# functions run in private subnets with no NAT.

data "aws_availability_zones" "primary" {
  provider = aws.primary
  state    = "available"
}

data "aws_availability_zones" "secondary" {
  provider = aws.secondary
  state    = "available"
}

resource "aws_vpc" "primary" {
  provider             = aws.primary
  cidr_block           = var.primary_vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${local.name}-primary" }
}

resource "aws_vpc" "secondary" {
  provider             = aws.secondary
  cidr_block           = var.secondary_vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${local.name}-secondary" }
}

resource "aws_subnet" "primary" {
  provider          = aws.primary
  count             = 3
  vpc_id            = aws_vpc.primary.id
  cidr_block        = cidrsubnet(var.primary_vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.primary.names[count.index]
  tags              = { Name = "${local.name}-primary-private-${count.index}" }
}

resource "aws_subnet" "secondary" {
  provider          = aws.secondary
  count             = 3
  vpc_id            = aws_vpc.secondary.id
  cidr_block        = cidrsubnet(var.secondary_vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.secondary.names[count.index]
  tags              = { Name = "${local.name}-secondary-private-${count.index}" }
}

# The functions and the VPC endpoints they call live in subnets of their
# own, apart from the database subnets. A network ACL does not filter
# traffic inside a subnet (FIS aws:network:disrupt-connectivity with scope
# "all" still allows intra-subnet traffic), so a health monitor sharing a
# subnet with the writer instance would keep reaching it through a region
# isolation and report the region healthy. From here, a deny-all ACL on
# the database subnets cuts every function's SQL probe into them, and
# leaves the functions' AWS API calls (through the endpoints) as they are.

resource "aws_subnet" "functions_primary" {
  provider          = aws.primary
  count             = 3
  vpc_id            = aws_vpc.primary.id
  cidr_block        = cidrsubnet(var.primary_vpc_cidr, 8, 16 + count.index)
  availability_zone = data.aws_availability_zones.primary.names[count.index]
  tags              = { Name = "${local.name}-primary-functions-${count.index}" }
}

resource "aws_subnet" "functions_secondary" {
  provider          = aws.secondary
  count             = 3
  vpc_id            = aws_vpc.secondary.id
  cidr_block        = cidrsubnet(var.secondary_vpc_cidr, 8, 16 + count.index)
  availability_zone = data.aws_availability_zones.secondary.names[count.index]
  tags              = { Name = "${local.name}-secondary-functions-${count.index}" }
}

resource "aws_route_table" "primary" {
  provider = aws.primary
  vpc_id   = aws_vpc.primary.id
  tags     = { Name = "${local.name}-primary-private" }
}

resource "aws_route_table" "secondary" {
  provider = aws.secondary
  vpc_id   = aws_vpc.secondary.id
  tags     = { Name = "${local.name}-secondary-private" }
}

resource "aws_route_table_association" "primary" {
  provider       = aws.primary
  count          = 3
  subnet_id      = aws_subnet.primary[count.index].id
  route_table_id = aws_route_table.primary.id
}

resource "aws_route_table_association" "secondary" {
  provider       = aws.secondary
  count          = 3
  subnet_id      = aws_subnet.secondary[count.index].id
  route_table_id = aws_route_table.secondary.id
}

resource "aws_route_table_association" "functions_primary" {
  provider       = aws.primary
  count          = 3
  subnet_id      = aws_subnet.functions_primary[count.index].id
  route_table_id = aws_route_table.primary.id
}

# The secondary region's function subnets have a route table of their own:
# the scheduled runner lives there, and its region's NAT route (runner.tf)
# is theirs alone, never the database subnets'.
resource "aws_route_table" "functions_secondary" {
  provider = aws.secondary
  vpc_id   = aws_vpc.secondary.id
  tags     = { Name = "${local.name}-secondary-functions" }
}

resource "aws_route_table_association" "functions_secondary" {
  provider       = aws.secondary
  count          = 3
  subnet_id      = aws_subnet.functions_secondary[count.index].id
  route_table_id = aws_route_table.functions_secondary.id
}

resource "aws_vpc_peering_connection" "primary" {
  provider    = aws.primary
  vpc_id      = aws_vpc.primary.id
  peer_vpc_id = aws_vpc.secondary.id
  peer_region = var.secondary_region
  auto_accept = false
  tags        = { Name = "${local.name}-peering" }
}

resource "aws_vpc_peering_connection_accepter" "secondary" {
  provider                  = aws.secondary
  vpc_peering_connection_id = aws_vpc_peering_connection.primary.id
  auto_accept               = true
  tags                      = { Name = "${local.name}-peering" }
}

resource "aws_route" "primary_to_secondary" {
  provider                  = aws.primary
  route_table_id            = aws_route_table.primary.id
  destination_cidr_block    = var.secondary_vpc_cidr
  vpc_peering_connection_id = aws_vpc_peering_connection.primary.id
}

resource "aws_route" "secondary_to_primary" {
  provider                  = aws.secondary
  route_table_id            = aws_route_table.secondary.id
  destination_cidr_block    = var.primary_vpc_cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.secondary.id
}

resource "aws_route" "functions_secondary_to_primary" {
  provider                  = aws.secondary
  route_table_id            = aws_route_table.functions_secondary.id
  destination_cidr_block    = var.primary_vpc_cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.secondary.id
}

# Security groups: the databases take MySQL from both VPCs; the functions
# reach the databases and the endpoints; the endpoints take HTTPS.

resource "aws_security_group" "db_primary" {
  provider    = aws.primary
  name        = "${local.name}-db-primary"
  description = "Aurora primary: MySQL from both VPCs"
  vpc_id      = aws_vpc.primary.id
}

resource "aws_security_group" "db_secondary" {
  provider    = aws.secondary
  name        = "${local.name}-db-secondary"
  description = "Aurora secondary: MySQL from both VPCs"
  vpc_id      = aws_vpc.secondary.id
}

resource "aws_vpc_security_group_ingress_rule" "db_primary" {
  provider          = aws.primary
  for_each          = toset([var.primary_vpc_cidr, var.secondary_vpc_cidr])
  security_group_id = aws_security_group.db_primary.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 3306
  to_port           = 3306
  description       = "MySQL from ${each.value}"
}

resource "aws_vpc_security_group_ingress_rule" "db_secondary" {
  provider          = aws.secondary
  for_each          = toset([var.primary_vpc_cidr, var.secondary_vpc_cidr])
  security_group_id = aws_security_group.db_secondary.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 3306
  to_port           = 3306
  description       = "MySQL from ${each.value}"
}

resource "aws_security_group" "lambda_primary" {
  provider    = aws.primary
  name        = "${local.name}-lambda-primary"
  description = "drdrill functions in the primary region"
  vpc_id      = aws_vpc.primary.id
}

resource "aws_security_group" "lambda_secondary" {
  provider    = aws.secondary
  name        = "${local.name}-lambda-secondary"
  description = "drdrill functions in the secondary region"
  vpc_id      = aws_vpc.secondary.id
}

resource "aws_vpc_security_group_egress_rule" "lambda_primary" {
  provider          = aws.primary
  for_each          = { mysql_primary = [var.primary_vpc_cidr, 3306], mysql_secondary = [var.secondary_vpc_cidr, 3306], https = [var.primary_vpc_cidr, 443] }
  security_group_id = aws_security_group.lambda_primary.id
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  description       = each.key
}

resource "aws_vpc_security_group_egress_rule" "lambda_secondary" {
  provider          = aws.secondary
  for_each          = { mysql_primary = [var.primary_vpc_cidr, 3306], mysql_secondary = [var.secondary_vpc_cidr, 3306], https = [var.secondary_vpc_cidr, 443] }
  security_group_id = aws_security_group.lambda_secondary.id
  cidr_ipv4         = each.value[0]
  ip_protocol       = "tcp"
  from_port         = each.value[1]
  to_port           = each.value[1]
  description       = each.key
}

resource "aws_security_group" "endpoints_primary" {
  provider    = aws.primary
  name        = "${local.name}-endpoints-primary"
  description = "Interface endpoints: HTTPS from the VPC"
  vpc_id      = aws_vpc.primary.id
}

resource "aws_security_group" "endpoints_secondary" {
  provider    = aws.secondary
  name        = "${local.name}-endpoints-secondary"
  description = "Interface endpoints: HTTPS from the VPC"
  vpc_id      = aws_vpc.secondary.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_primary" {
  provider          = aws.primary
  security_group_id = aws_security_group.endpoints_primary.id
  cidr_ipv4         = var.primary_vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_secondary" {
  provider          = aws.secondary
  security_group_id = aws_security_group.endpoints_secondary.id
  cidr_ipv4         = var.secondary_vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "primary" {
  provider            = aws.primary
  for_each            = local.endpoint_services_primary
  vpc_id              = aws_vpc.primary.id
  service_name        = "com.amazonaws.${var.primary_region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.functions_primary[*].id
  security_group_ids  = [aws_security_group.endpoints_primary.id]
  private_dns_enabled = true
  tags                = { Name = "${local.name}-primary-${each.key}" }
}

resource "aws_vpc_endpoint" "secondary" {
  provider            = aws.secondary
  for_each            = local.endpoint_services_secondary
  vpc_id              = aws_vpc.secondary.id
  service_name        = "com.amazonaws.${var.secondary_region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.functions_secondary[*].id
  security_group_ids  = [aws_security_group.endpoints_secondary.id]
  private_dns_enabled = true
  tags                = { Name = "${local.name}-secondary-${each.key}" }
}

# Explicit network ACLs on the database subnets: allow both VPCs, deny the
# rest (the default rule). drdrill's region-isolation fault swaps these for
# a deny-all ACL and restores the original associations on rollback.

resource "aws_network_acl" "db_primary" {
  provider   = aws.primary
  vpc_id     = aws_vpc.primary.id
  subnet_ids = aws_subnet.primary[*].id
  tags       = { Name = "${local.name}-db-primary" }
}

resource "aws_network_acl" "db_secondary" {
  provider   = aws.secondary
  vpc_id     = aws_vpc.secondary.id
  subnet_ids = aws_subnet.secondary[*].id
  tags       = { Name = "${local.name}-db-secondary" }
}

resource "aws_network_acl_rule" "db_primary" {
  provider       = aws.primary
  for_each       = { in_primary = [100, false, var.primary_vpc_cidr], in_secondary = [110, false, var.secondary_vpc_cidr], out_primary = [100, true, var.primary_vpc_cidr], out_secondary = [110, true, var.secondary_vpc_cidr] }
  network_acl_id = aws_network_acl.db_primary.id
  rule_number    = each.value[0]
  egress         = each.value[1]
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = each.value[2]
}

resource "aws_network_acl_rule" "db_secondary" {
  provider       = aws.secondary
  for_each       = { in_primary = [100, false, var.primary_vpc_cidr], in_secondary = [110, false, var.secondary_vpc_cidr], out_primary = [100, true, var.primary_vpc_cidr], out_secondary = [110, true, var.secondary_vpc_cidr] }
  network_acl_id = aws_network_acl.db_secondary.id
  rule_number    = each.value[0]
  egress         = each.value[1]
  protocol       = "-1"
  rule_action    = "allow"
  cidr_block     = each.value[2]
}
