//! The subnet arithmetic of the layout, shared by validation (does the convention fit the VPC?)
//! and the graph (which CIDR each subnet gets): `cidrsubnet` as Terraform defines it, and the
//! convention of public `10.N.0.0/24`, `10.N.1.0/24`, ... and private `10.N.50.0/24`, ... per
//! zone, by position (a zone's recorded range is kept by `plan::cidrs` once it exists).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The index, among the VPC's /24s, of the convention's first private subnet; the public ones
/// are numbered from 0, below it.
pub const PRIVATE_FIRST: u32 = 50;

/// The prefix bits that cut `vpc` into the convention's /24s (`None` when it is smaller).
pub fn newbits_to_24(vpc: Ipv4Net) -> Option<u8> {
    24u8.checked_sub(vpc.prefix_len())
}

/// `cidrsubnet(net, newbits, index)`: the `index`-th subnet with `newbits` more prefix bits.
pub fn cidrsubnet(net: Ipv4Net, newbits: u8, index: u32) -> Option<Ipv4Net> {
    let prefix = net.prefix_len().checked_add(newbits)?;
    if prefix > 32 || (newbits < 32 && index >= (1u32 << newbits)) {
        return None;
    }
    let base = u32::from(net.network());
    let offset = index.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Net::new(Ipv4Addr::from(base + offset), prefix).ok()
}

/// Public and private subnet CIDRs per zone: explicit lists, or the layout's convention.
pub fn subnet_cidrs(
    vpc: Ipv4Net,
    zones: usize,
    public: Option<&[String]>,
    private: Option<&[String]>,
) -> Option<(Vec<Ipv4Net>, Vec<Ipv4Net>)> {
    let pick = |explicit: Option<&[String]>, first: u32| -> Option<Vec<Ipv4Net>> {
        match explicit {
            Some(list) => list.iter().map(|c| c.parse().ok()).collect(),
            None => (0..zones)
                .map(|i| cidrsubnet(vpc, newbits_to_24(vpc)?, first + u32::try_from(i).ok()?))
                .collect(),
        }
    };
    Some((pick(public, 0)?, pick(private, PRIVATE_FIRST)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrsubnet_follows_the_convention() {
        let vpc: Ipv4Net = "10.3.0.0/16".parse().expect("cidr");
        assert_eq!(cidrsubnet(vpc, 8, 0).map(|n| n.to_string()), Some("10.3.0.0/24".to_owned()));
        assert_eq!(cidrsubnet(vpc, 8, 51).map(|n| n.to_string()), Some("10.3.51.0/24".to_owned()));
        assert_eq!(cidrsubnet(vpc, 8, 256), None);
        assert_eq!(cidrsubnet(vpc, 17, 0), None);
    }
}
