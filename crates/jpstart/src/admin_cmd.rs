//! `jpstart admin ...`: JSON on stdout; a one-line reason on stderr and a
//! non-zero exit on failure.

use std::process::ExitCode;

use jpstart_server::admin::{Admin, AdminError, ClockStep};
use jpstart_server::store::copy::copy_database;
use serde::Serialize;

use crate::cli::{
    AdminArgs, AdminCommand, ClockCommand, KeyCommand, PartnerCommand, SiteCommand, TokenCommand,
};

pub async fn run(args: AdminArgs) -> ExitCode {
    match dispatch(args).await {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let line = e.to_string().replace('\n', " ");
            eprintln!("jpstart admin: {line}");
            ExitCode::FAILURE
        }
    }
}

fn json<T: Serialize>(v: T) -> Result<String, AdminError> {
    serde_json::to_string(&v).map_err(|e| AdminError::Invalid(e.to_string()))
}

async fn dispatch(args: AdminArgs) -> Result<String, AdminError> {
    // Names its own databases: --database-url must not be opened (created).
    if let AdminCommand::Migrate { from, to } = &args.command {
        return json(copy_database(from, to).await?);
    }
    if let AdminCommand::Backup { file } = &args.command {
        // Before opening the store: PostgreSQL is refused without a connection.
        return json(jpstart_server::admin::backup(&args.db.database_url, file).await?);
    }
    let catalogue = crate::catalog::load(args.catalog.as_deref()).map_err(AdminError::Invalid)?;
    let admin = Admin::open(&args.db.database_url, catalogue).await?;
    match args.command {
        AdminCommand::Migrate { .. } => {
            Err(AdminError::Invalid("migrate was handled above".into()))
        }
        AdminCommand::Partner(PartnerCommand::Create { name }) => {
            json(admin.create_partner(&name).await?)
        }
        AdminCommand::Partner(PartnerCommand::AllowRedirect { partner, prefix }) => {
            json(admin.allow_redirect(partner, &prefix).await?)
        }
        AdminCommand::Key(KeyCommand::Create {
            partner,
            name,
            test,
            limits,
        }) => json(
            admin
                .create_key(partner, name.as_deref(), test, &limits)
                .await?,
        ),
        AdminCommand::Key(KeyCommand::Disable { id }) => {
            json(admin.set_key_disabled(id, true).await?)
        }
        AdminCommand::Key(KeyCommand::Enable { id }) => {
            json(admin.set_key_disabled(id, false).await?)
        }
        AdminCommand::Key(KeyCommand::List { partner }) => json(admin.keys(partner).await?),
        AdminCommand::Token(TokenCommand::Revoke { token, key }) => {
            json(admin.revoke(token.as_deref(), key).await?)
        }
        AdminCommand::Token(TokenCommand::Create { key, scope }) => {
            json(admin.create_token(key, scope.as_deref()).await?)
        }
        AdminCommand::Site(SiteCommand::Show { site }) => json(admin.site(&site).await?),
        AdminCommand::Site(SiteCommand::Connect { site }) => json(admin.connect_site(&site).await?),
        AdminCommand::Site(SiteCommand::Grant { site, product }) => {
            json(admin.grant(&site, &product).await?)
        }
        AdminCommand::Activations { site, partner } => {
            json(admin.activations(site.as_deref(), partner).await?)
        }
        AdminCommand::Clock(command) => {
            let step = match command {
                ClockCommand::Show => ClockStep::Show,
                ClockCommand::Advance { duration } => ClockStep::Advance(duration),
                ClockCommand::Set { time } => ClockStep::Set(time),
            };
            json(admin.clock(step).await?)
        }
        AdminCommand::Backup { .. } => Err(AdminError::Invalid("backup was handled above".into())),
        AdminCommand::Partner(PartnerCommand::AllowUserCreation { partner, off }) => {
            json(admin.allow_user_creation(partner, !off).await?)
        }
        AdminCommand::WpcomUser(cmd) => crate::admin_users::run(&admin, cmd).await,
        AdminCommand::User(cmd) => crate::admin_partner_users::run(&admin, cmd).await,
        AdminCommand::Mail { to } => json(admin.mail(to.as_deref()).await?),
        AdminCommand::Requests {
            partner,
            key,
            limit,
        } => json(admin.requests(partner, key, limit).await?),
    }
}
