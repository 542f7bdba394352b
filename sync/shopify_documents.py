"""The Admin GraphQL documents more than one module sends to Shopify, each defined once.

The flows, reconciliation and the publish saga read variants and customers, and write them
back, with the same documents. A document only one module sends stays with that module.
"""

from __future__ import annotations

from sync.customer_mapping import GRAPHQL_CUSTOMER_FIELDS
from sync.mappers import GRAPHQL_PRODUCT_COLLECTIONS, GRAPHQL_PRODUCT_FIELDS, GRAPHQL_VARIANT_FIELDS

VARIANTS_QUERY = f"""
query SyncVariants($ids: [ID!]!) {{
  shop {{ currencyCode }}
  nodes(ids: $ids) {{
    ... on ProductVariant {{
      {GRAPHQL_VARIANT_FIELDS}
      product {{ {GRAPHQL_PRODUCT_FIELDS} {GRAPHQL_PRODUCT_COLLECTIONS} }}
    }}
  }}
}}
"""
CUSTOMERS_QUERY = f"""
query SyncCustomers($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Customer {{ {GRAPHQL_CUSTOMER_FIELDS} }}
  }}
}}
"""
VARIANTS_UPDATE = """
mutation SyncVariants($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id }
    userErrors { field message }
  }
}
"""
CUSTOMER_UPDATE = """
mutation SyncCustomerUpdate($input: CustomerInput!) {
  customerUpdate(input: $input) { customer { id updatedAt } userErrors { field message } }
}
"""
